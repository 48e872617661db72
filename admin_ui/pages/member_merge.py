"""Merging members in the admin UI (docs/merge.md): "Merge into…" on a
member's profile with a confirmation of what will move (``mergeMembers``,
the admin scope), undo while the window is open (``undoMemberMerge``), and
the Duplicates page listing candidates with merge and dismiss
(``dismissDuplicateCandidate``, the manage scope)."""

from __future__ import annotations

from starlette.responses import Response

from tessera.admin_ui.context import Ctx, errors_of
from tessera.admin_ui.i18n import N_
from tessera.admin_ui.registry import page
from tessera.assets import service as assets
from tessera.auth.scopes import Scope
from tessera.behaviour.models import BehaviourEvent
from tessera.coupons.models import Coupon
from tessera.errors import DomainError
from tessera.idempotency import from_caller
from tessera.members import duplicates, merge
from tessera.members import service as members
from tessera.members.models import DuplicateCandidate, Member, MemberIdentity, MemberMerge
from tessera.orders.models import Order
from tessera.tags.models import TagAssignment

# The duplicate reasons as the page shows them (marked for the catalogs).
REASONS = {
    duplicates.IDENTITY: N_("same identity"),
    duplicates.NAME_BIRTHDAY: N_("same name and birthday"),
    duplicates.NAME_CITY_PHONE: N_("same name, city and phone ending"),
}
# A tombstone's status, as the profile shows it.
STATUS_LABEL = N_("merged")
PAGE_SIZE = 50


async def _find(ctx: Ctx, typed: str) -> Member | None:
    """The member an operator means by ``typed``: a member id, a card number
    or a phone number of this brand."""
    text = typed.strip()
    if not text:
        return None
    if text.isdigit():
        found = await ctx.scope.get(Member, int(text))
        if found is not None:
            return found
    for kind in ("card_number", "phone"):
        try:
            found = await members.find_by_identity(ctx.scope, kind, text)
        except DomainError:
            continue
        if found is not None:
            return found
    return None


async def _moving(ctx: Ctx, member: Member) -> list[tuple[str, int, bool]]:
    """What a merge of ``member`` moves: (label msgid, count or amount,
    whether the amount is money in minor units)."""
    scope = ctx.scope
    balances = (await assets.balances(scope, [member.id]))[member.id]
    counted = (
        (N_("Identities"), MemberIdentity),
        (N_("Orders"), Order),
        (N_("Events"), BehaviourEvent),
        (N_("Coupons"), Coupon),
        (N_("Tags"), TagAssignment),
    )
    moving = [
        (label, await scope.query(model).filter(member_id=member.id).count(), False)
        for label, model in counted
    ]
    return [
        *moving,
        (N_("Points"), balances.points, False),
        (N_("Stored value"), balances.stored_value, True),
        (N_("Growth"), balances.growth, False),
    ]


async def _confirm(
    ctx: Ctx,
    merged: Member,
    survivor: Member | None,
    typed: str,
    status: int = 200,
    errors: dict[str, list[str]] | None = None,
) -> Response:
    return ctx.render(
        "member_merge.html",
        status=status,
        title=N_("Merge into another member"),
        merged=merged,
        survivor=survivor,
        typed=typed,
        moving=await _moving(ctx, merged) if survivor is not None else [],
        errors=errors or {},
    )


@page("/members/{member_id}/merge", "member_merge", permission=Scope.ADMIN)
async def merge_form(ctx: Ctx) -> Response:
    """Pick the member who stays (``?into=``: an id, card or phone), then see
    what moves before confirming."""
    merged = await ctx.row(Member, "member_id")
    if merged is None:
        return ctx.not_found()
    typed = ctx.request.query_params.get("into", "")
    survivor = await _find(ctx, typed) if typed else None
    errors = {"into": [ctx.gettext("No member of this brand has this id, card or phone.")]}
    if typed and survivor is None:
        return await _confirm(ctx, merged, None, typed, 422, errors)
    return await _confirm(ctx, merged, survivor, typed)


@page("/members/{member_id}/merge", "member_merge_save", permission=Scope.ADMIN, methods=("POST",))
async def merge_save(ctx: Ctx) -> Response:
    """Like ``mergeMembers`` (admin scope); the form's idempotency key makes
    a double submit a replay of the first merge."""
    merged = await ctx.row(Member, "member_id")
    if merged is None:
        return ctx.not_found()
    form = await ctx.form()
    raw = str(form.get("survivor_id", "")).strip()
    key = str(form.get("idempotency_key", "")).strip()
    survivor = await ctx.scope.get(Member, int(raw)) if raw.isdigit() else None
    try:
        result = await ctx.audited(
            "mergeMembers",
            {"survivorId": raw, "mergedId": merged.id, "idempotencyKey": key},
            lambda: merge.merge_members(
                ctx.scope,
                int(raw) if raw.isdigit() else 0,
                merged.id,
                idempotency_key=from_caller(key),
            ),
        )
    except DomainError as error:
        found = errors_of(error)
        messages = {"": [m for ms in found.values() for m in ms]}
        return await _confirm(ctx, merged, survivor, raw, 422, messages)
    if result.replayed:
        ctx.replayed()
    else:
        ctx.flash(ctx.gettext("Members merged."))
    return ctx.redirect(ctx.url("member", member_id=result.survivor.id))


@page("/merges/{merge_id}/undo", "member_merge_undo", permission=Scope.ADMIN, methods=("POST",))
async def undo(ctx: Ctx) -> Response:
    """Like ``undoMemberMerge`` (admin scope)."""
    done = await ctx.row(MemberMerge, "merge_id")
    if done is None:
        return ctx.not_found()
    try:
        await ctx.audited(
            "undoMemberMerge",
            {"mergeId": done.id},
            lambda: merge.undo_merge(ctx.scope, done.id),
        )
    except DomainError as error:
        ctx.flash(error.message, "error")
        return ctx.redirect(ctx.url("member", member_id=done.survivor_id))
    ctx.flash(ctx.gettext("Merge undone."))
    return ctx.redirect(ctx.url("member", member_id=done.merged_id))


async def merges_of(ctx: Ctx, member: Member) -> list[tuple[MemberMerge, str | None]]:
    """The merges into ``member`` not undone, newest first, each with what
    blocks its undo (None: it can be undone): for the profile page."""
    rows = (
        await ctx.scope.query(MemberMerge)
        .filter(survivor_id=member.id, undone_at=None)
        .order_by("-id")
        .limit(10)
    )
    return [(row, await merge.undo_blocker(ctx.scope, row)) for row in rows]


@page(
    "/duplicates",
    "duplicates",
    permission=Scope.MANAGE,
    title=N_("Duplicates"),
    nav_group="Members",
)
async def duplicate_list(ctx: Ctx) -> Response:
    candidates = (
        await duplicates.candidates(ctx.scope)
        .order_by("-id")
        .limit(PAGE_SIZE)
        .select_related("member", "other")
    )
    return ctx.render(
        "duplicates.html",
        title=N_("Duplicates"),
        candidates=candidates,
        reasons=REASONS,
        can_merge=ctx.can(Scope.ADMIN),
    )


@page(
    "/duplicates/{candidate_id}/dismiss",
    "duplicate_dismiss",
    permission=Scope.MANAGE,
    methods=("POST",),
)
async def dismiss(ctx: Ctx) -> Response:
    """Like ``dismissDuplicateCandidate`` (manage scope)."""
    candidate = await ctx.row(DuplicateCandidate, "candidate_id")
    if candidate is None:
        return ctx.not_found()
    await ctx.audited(
        "dismissDuplicateCandidate",
        {"id": candidate.id},
        lambda: duplicates.dismiss(ctx.scope, candidate.id),
    )
    return ctx.redirect(ctx.url("duplicates"), ctx.gettext("Not the same person: dismissed."))


@page("/duplicates/scan", "duplicate_scan", permission=Scope.MANAGE, methods=("POST",))
async def scan(ctx: Ctx) -> Response:
    """Like ``scanDuplicateCandidates`` (manage scope)."""
    found = await ctx.audited("scanDuplicateCandidates", {}, lambda: duplicates.scan(ctx.scope))
    return ctx.redirect(ctx.url("duplicates"), ctx.gettext("Profile matches found:") + f" {found}")
