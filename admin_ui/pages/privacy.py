"""A member's personal data (export, legal hold, erasure) and the brand's
retention settings, through the services and audit names of the GraphQL
mutations (``exportMemberData``, ``setLegalHold``, ``eraseMember``,
``updatePrivacySettings``), all the admin scope as there. docs/privacy.md."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from tessera.admin_ui.context import Ctx, errors_of
from tessera.admin_ui.i18n import N_
from tessera.admin_ui.registry import page
from tessera.auth.scopes import Scope
from tessera.errors import DomainError
from tessera.members.models import Member
from tessera.members.profile import MemberStatus
from tessera.privacy import erasure, exports
from tessera.privacy import settings as retention
from tessera.privacy.models import MemberExport

EXPORTS_SHOWN = 10
# Reasons an operator may give (retention is the job's own).
REASONS = {
    erasure.ErasureReason.MEMBER_REQUEST.value: N_("The member asked"),
    erasure.ErasureReason.CONSENT_WITHDRAWN.value: N_("Consent withdrawn"),
    erasure.ErasureReason.LEGAL_OBLIGATION.value: N_("Legal obligation"),
    erasure.ErasureReason.OTHER.value: N_("Other"),
}
# Stored export statuses the page shows through the catalog.
SHOWN_VALUES = (N_("pending"), N_("ready"), N_("downloaded"), N_("expired"), N_("failed"))
SETTING_FIELDS = {
    "behaviourEventDays": ("behaviour_event_days", N_("Behaviour events kept (days)")),
    "webhookDeliveryDays": ("webhook_delivery_days", N_("Webhook delivery logs kept (days)")),
    "messageLogDays": ("message_log_days", N_("Message logs kept (days)")),
    "inactiveMemberDays": ("inactive_member_days", N_("Anonymise members inactive for (days)")),
    "exportLinkHours": ("export_link_hours", N_("Export links work for (hours)")),
}


async def privacy_page(
    ctx: Ctx,
    member: Member,
    status: int = 200,
    errors: dict[str, list[str]] | None = None,
    form: str = "",
) -> Response:
    rows = (
        await ctx.scope.query(MemberExport)
        .filter(member_id=member.id)
        .order_by("-id")
        .limit(EXPORTS_SHOWN)
    )
    return ctx.render(
        "member_privacy.html",
        status=status,
        title=N_("Personal data"),
        member=member,
        erased=member.status == MemberStatus.ERASED.value,
        hold=await erasure.legal_hold_of(ctx.scope, member.id),
        exports=[(row, exports.download_path(row)) for row in rows],
        reasons=REASONS,
        errors=errors or {},
        form=form,
    )


@page("/members/{member_id}/privacy", "member_privacy", permission=Scope.ADMIN)
async def member_privacy(ctx: Ctx) -> Response:
    member = await ctx.row(Member, "member_id")
    if member is None:
        return ctx.not_found()
    return await privacy_page(ctx, member)


@page(
    "/members/{member_id}/privacy/export",
    "member_export",
    permission=Scope.ADMIN,
    methods=("POST",),
)
async def export_member(ctx: Ctx) -> Response:
    """Like ``exportMemberData``; the form's key makes a double click one export."""
    member = await ctx.row(Member, "member_id")
    if member is None:
        return ctx.not_found()
    key = str((await ctx.form()).get("idempotency_key", "")).strip()
    async with ctx.once(key) as first:
        if not first:
            ctx.replayed()
            return ctx.redirect(ctx.url("member_privacy", member_id=member.id))
        try:
            await ctx.audited(
                "exportMemberData",
                {"memberId": member.id},
                lambda: exports.request_export(ctx.scope, member.id),
            )
        except DomainError as error:
            return await privacy_page(ctx, member, 422, _on_form(error), "export")
    return ctx.redirect(
        ctx.url("member_privacy", member_id=member.id),
        ctx.gettext("The export is being built; its link shows here when it is ready."),
    )


@page(
    "/members/{member_id}/privacy/hold",
    "member_legal_hold",
    permission=Scope.ADMIN,
    methods=("POST",),
)
async def legal_hold(ctx: Ctx) -> Response:
    """Like ``setLegalHold``: ``hold`` on with a reason, or off."""
    member = await ctx.row(Member, "member_id")
    if member is None:
        return ctx.not_found()
    form = await ctx.form()
    hold = str(form.get("hold", "")) == "on"
    reason = str(form.get("reason", ""))
    try:
        await ctx.audited(
            "setLegalHold",
            {"memberId": member.id, "hold": hold, "reason": reason},
            lambda: erasure.set_legal_hold(ctx.scope, member.id, hold, reason),
        )
    except DomainError as error:
        return await privacy_page(ctx, member, 422, _on_form(error), "hold")
    message = N_("Legal hold set.") if hold else N_("Legal hold cleared.")
    return ctx.redirect(ctx.url("member_privacy", member_id=member.id), ctx.gettext(message))


@page(
    "/members/{member_id}/privacy/erase",
    "member_erase",
    permission=Scope.ADMIN,
    methods=("POST",),
)
async def erase(ctx: Ctx) -> Response:
    """Like ``eraseMember``, once the operator has ticked the confirmation."""
    member = await ctx.row(Member, "member_id")
    if member is None:
        return ctx.not_found()
    form = await ctx.form()
    raw = str(form.get("reason", ""))
    try:
        if form.get("confirm") != "yes":
            raise DomainError("REQUIRED", "tick the box to confirm the erasure", ["confirm"])
        if raw not in REASONS:
            raise DomainError("INVALID", "choose a reason", ["reason"])
        reason = erasure.ErasureReason(raw)
        await ctx.audited(
            "eraseMember",
            {"memberId": member.id, "reason": raw},
            lambda: erasure.erase_member(ctx.scope, member.id, reason),
        )
    except DomainError as error:
        return await privacy_page(ctx, member, 422, _on_form(error), "erase")
    return ctx.redirect(
        ctx.url("member_privacy", member_id=member.id),
        ctx.gettext("The member's personal data was erased."),
    )


def _on_form(error: DomainError) -> dict[str, list[str]]:
    """Messages by form field; the member id the services name is the form's whole."""
    return {("" if k == "memberId" else k): v for k, v in errors_of(error).items()}


# --- retention settings -----------------------------------------------------------


def _shown(settings: Any) -> dict[str, str]:
    return {
        name: "" if getattr(settings, column) is None else str(getattr(settings, column))
        for name, (column, _) in SETTING_FIELDS.items()
    }


def _settings_page(
    ctx: Ctx, values: dict[str, str], status: int = 200, errors: dict[str, list[str]] | None = None
) -> Response:
    return ctx.render(
        "privacy_settings.html",
        status=status,
        title=N_("Privacy and retention"),
        fields=[(name, label) for name, (_, label) in SETTING_FIELDS.items()],
        values=values,
        errors=errors or {},
    )


@page(
    "/privacy",
    "privacy_settings",
    permission=Scope.ADMIN,
    title=N_("Privacy and retention"),
    nav_group="Settings",
)
async def privacy_settings(ctx: Ctx) -> Response:
    return _settings_page(ctx, _shown(await retention.get_settings(ctx.scope)))


@page("/privacy", "privacy_settings_save", permission=Scope.ADMIN, methods=("POST",))
async def save_privacy_settings(ctx: Ctx) -> Response:
    """Like ``updatePrivacySettings``; an empty period keeps for ever."""
    form = await ctx.form()
    typed = {name: str(form.get(name, "")).strip() for name in SETTING_FIELDS}
    changes: dict[str, int | None] = {}
    errors: dict[str, list[str]] = {}
    for name, (column, _) in SETTING_FIELDS.items():
        text = typed[name]
        if text and not text.isdigit():
            errors[name] = [ctx.gettext("a whole number of days, or empty")]
        elif text or column in retention.OPTIONAL:
            changes[column] = int(text) if text else None
    if errors:
        return _settings_page(ctx, typed, 422, errors)
    try:
        await ctx.audited(
            "updatePrivacySettings",
            {k: v for k, v in typed.items()},
            lambda: retention.update_settings(ctx.scope, changes),
        )
    except DomainError as error:
        return _settings_page(ctx, typed, 422, errors_of(error))
    return ctx.redirect(ctx.url("privacy_settings"), ctx.gettext("Retention settings saved."))
