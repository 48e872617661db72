"""Finding a member, their profile, and the support actions on it (tags,
points corrections), through the same services and scopes as GraphQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.responses import Response

from tessera.admin_ui.context import Ctx, errors_of
from tessera.admin_ui.i18n import N_
from tessera.admin_ui.pages.member_merge import merges_of
from tessera.admin_ui.pages.member_timeline import TIMELINE_LIMIT, timeline
from tessera.admin_ui.pages.people import member_person
from tessera.admin_ui.registry import page
from tessera.assets import service as assets
from tessera.assets.models import LedgerEntry
from tessera.auth.scopes import Scope
from tessera.coupons.models import CouponTemplate
from tessera.coupons.service import coupons_of_members, status_of
from tessera.errors import DomainError
from tessera.idempotency import from_caller
from tessera.members import service as members
from tessera.members.attributes import list_definitions
from tessera.members.models import Member
from tessera.members.search import MemberFilter, filtered_members
from tessera.orders.models import Order, OrderLine
from tessera.tags import service as tags
from tessera.tiers.service import history_of, states_of

SEARCH_LIMIT = 50
# The orders listed are the timeline's too: one read serves both.
HISTORY_LIMIT = TIMELINE_LIMIT
# Ledger entries per page of the profile's history ("Older entries" pages on).
LEDGER_PAGE = 20
MAX_LEDGER_PAGE = 1000


async def _search(ctx: Ctx, text: str) -> list[Member]:
    """Phone, card number, name or email (the API's text filter), and an exact
    external id, which that filter does not cover."""
    found = list(
        await (await filtered_members(ctx.scope, MemberFilter(text=text)))
        .order_by("-joined_at", "-id")
        .limit(SEARCH_LIMIT)
    )
    seen = {m.id for m in found}
    by_external = await ctx.scope.query(Member).filter(external_id=text).limit(SEARCH_LIMIT)
    return [m for m in by_external if m.id not in seen] + found


@page("/members", "members", permission=Scope.READ, title=N_("Members"), nav_group="Members")
async def member_search(ctx: Ctx) -> Response:
    text = ctx.request.query_params.get("q", "").strip()
    found = await _search(ctx, text) if text else []
    values: dict[str, Any] = {"title": "Members", "q": text, "found": found}
    page = ctx.render("members_results.html" if ctx.htmx else "members.html", **values)
    await ctx.audit_personal_reads()
    return page


def _ledger_page(ctx: Ctx) -> int:
    raw = ctx.request.query_params.get("ledger_page", "1")
    return min(int(raw), MAX_LEDGER_PAGE) if raw.isdigit() and int(raw) > 0 else 1


async def profile_page(
    ctx: Ctx,
    member: Member,
    status: int = 200,
    errors: dict[str, list[str]] | None = None,
    values: dict[str, str] | None = None,
    form: str = "points",
    token: Any = None,
) -> Response:
    """The profile page; after a refused ``form``, with its errors and what was
    typed; after a member token was issued, with the token (shown once)."""
    scope, now = ctx.scope, datetime.now(UTC)
    ledger_page = _ledger_page(ctx)
    ledger = list(
        await scope.query(LedgerEntry)
        .filter(member_id=member.id)
        .order_by("-occurred_at", "-id")
        .offset((ledger_page - 1) * LEDGER_PAGE)
        .limit(LEDGER_PAGE + 1)
    )
    orders = list(
        await scope.query(Order)
        .filter(member_id=member.id)
        .order_by("-occurred_at", "-id")
        .limit(HISTORY_LIMIT)
    )
    lines: dict[int, list[OrderLine]] = {o.id: [] for o in orders}
    for line in await scope.query(OrderLine).filter(order_id__in=list(lines)).order_by("line_no"):
        lines[line.order_id].append(line)
    coupons = (await coupons_of_members(scope, [member.id], None, now))[member.id]
    page = ctx.render(
        "member.html",
        status=status,
        title=N_("Member"),
        member=member,
        identities=(await members.identities_of(scope, [member.id]))[member.id],
        definitions=await list_definitions(scope),
        assignments=(await tags.assignments_of(scope, [member.id]))[member.id],
        all_tags=await tags.tags_query(scope).order_by("code"),
        tier=(await states_of(scope, [member.id])).get(member.id),
        tier_history=list(reversed((await history_of(scope, [member.id]))[member.id])),
        balances=(await assets.balances(scope, [member.id]))[member.id],
        ledger=ledger[:LEDGER_PAGE],
        ledger_page=ledger_page,
        ledger_more=len(ledger) > LEDGER_PAGE,
        coupons=[(c, status_of(c, now)) for c in coupons],
        templates=await scope.query(CouponTemplate).filter(active=True).order_by("title", "id"),
        orders=[(o, lines[o.id]) for o in orders],
        timeline=await timeline(scope, member.id, orders=orders),
        form=form,
        errors=errors or {},
        values=values or {},
        token=token,
        can_write=ctx.can(Scope.WRITE),
        can_adjust=ctx.can(Scope.MANAGE),
        can_admin=ctx.can(Scope.ADMIN),
        person_panel=await member_person(ctx, member.id),
        can_merge=ctx.can(Scope.ADMIN),
        merges=await merges_of(ctx, member),
    )
    await ctx.audit_personal_reads()
    return page


@page("/members/{member_id}", "member", permission=Scope.READ)
async def member_profile(ctx: Ctx) -> Response:
    member = await ctx.row(Member, "member_id")
    if member is None:
        return ctx.not_found()
    return await profile_page(ctx, member)


def _as_tag_errors(error: DomainError) -> dict[str, list[str]]:
    return {"tag": [m for messages in errors_of(error).values() for m in messages]}


async def _tag_code(ctx: Ctx) -> str:
    form = await ctx.form()
    return str(form.get("tag", "")).strip()


@page("/members/{member_id}/tags", "member_tag", permission=Scope.WRITE, methods=("POST",))
async def add_tag(ctx: Ctx) -> Response:
    """Like ``tagMembers`` for one member (write scope)."""
    member = await ctx.row(Member, "member_id")
    if member is None:
        return ctx.not_found()
    code = await _tag_code(ctx)
    try:
        await ctx.audited(
            "tagMembers",
            {"tags": [code], "memberIds": [member.id]},
            lambda: tags.tag_members(ctx.scope, [code], member_ids=[member.id]),
        )
    except DomainError as error:
        return await profile_page(ctx, member, 422, _as_tag_errors(error), form="tag")
    return ctx.redirect(ctx.url("member", member_id=member.id), ctx.gettext("Tag added."))


@page("/members/{member_id}/tags/remove", "member_untag", permission=Scope.WRITE, methods=("POST",))
async def remove_tag(ctx: Ctx) -> Response:
    """Like ``untagMembers`` with ``anySource`` for one member (write scope)."""
    member = await ctx.row(Member, "member_id")
    if member is None:
        return ctx.not_found()
    code = await _tag_code(ctx)
    try:
        await ctx.audited(
            "untagMembers",
            {"tags": [code], "memberIds": [member.id], "anySource": True},
            lambda: tags.untag_members(ctx.scope, [code], member_ids=[member.id], any_source=True),
        )
    except DomainError as error:
        return await profile_page(ctx, member, 422, _as_tag_errors(error), form="tag")
    return ctx.redirect(ctx.url("member", member_id=member.id), ctx.gettext("Tag removed."))


@page("/members/{member_id}/points", "member_points", permission=Scope.MANAGE, methods=("POST",))
async def adjust_points(ctx: Ctx) -> Response:
    """Like ``adjustPoints`` (manage scope): a signed correction with a required
    reason; the form's idempotency key makes a double submit a replay."""
    member = await ctx.row(Member, "member_id")
    if member is None:
        return ctx.not_found()
    form = await ctx.form()
    raw_points = str(form.get("points", "")).strip()
    reason = str(form.get("reason", ""))
    key = str(form.get("idempotency_key", "")).strip()
    try:
        if not raw_points.lstrip("-").isdigit():
            raise DomainError(
                "INVALID_AMOUNT", "must be a whole number other than zero", ["points"]
            )
        points = int(raw_points)
        result = await ctx.audited(
            "adjustPoints",
            {"memberId": member.id, "points": points, "reason": reason, "idempotencyKey": key},
            lambda: assets.adjust_points(
                ctx.scope, member.id, points, idempotency_key=from_caller(key), reason=reason
            ),
        )
    except DomainError as error:
        typed = {"points": raw_points, "reason": reason}
        return await profile_page(ctx, member, 422, errors_of(error), typed)
    if result.replayed:
        ctx.flash(ctx.gettext("This form was sent before; nothing changed twice."), "warning")
    else:
        ctx.flash(ctx.gettext("Points adjusted."))
    return ctx.redirect(ctx.url("member", member_id=member.id))
