"""Campaigns in the admin UI: the list with a form for a new draft, and each
campaign's page with its live counts and the launch, pause, resume, cancel
and delete buttons its state allows. Every change is the service call
GraphQL makes (docs/campaigns.md)."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import Response

from tessera.admin_ui.context import Ctx, errors_of
from tessera.admin_ui.i18n import N_
from tessera.admin_ui.registry import page
from tessera.auth.scopes import Scope
from tessera.campaigns import sending, service
from tessera.campaigns.models import Campaign, CampaignStatus
from tessera.channels.models import MessageTemplate, Purpose
from tessera.errors import DomainError
from tessera.segments.models import Segment

LABELS = (
    N_("draft"),
    N_("scheduled"),
    N_("preparing"),
    N_("sending"),
    N_("paused"),
    N_("cancelled"),
    N_("completed"),
)
# The buttons each state shows (the service refuses any other anyway).
ACTIONS: dict[CampaignStatus, tuple[str, ...]] = {
    CampaignStatus.DRAFT: ("launch", "delete"),
    CampaignStatus.SCHEDULED: ("cancel",),
    CampaignStatus.PREPARING: ("cancel",),
    CampaignStatus.SENDING: ("pause", "cancel"),
    CampaignStatus.PAUSED: ("resume", "cancel"),
}
ACTION_LABELS = {
    "launch": N_("Launch"),
    "pause": N_("Pause"),
    "resume": N_("Resume"),
    "cancel": N_("Cancel campaign"),
    "delete": N_("Delete draft"),
}
CALLS = {
    "launch": ("launchCampaign", service.launch_campaign),
    "pause": ("pauseCampaign", service.pause_campaign),
    "resume": ("resumeCampaign", service.resume_campaign),
    "cancel": ("cancelCampaign", service.cancel_campaign),
}


def _int(value: object) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() else None


def _input(form: Mapping[str, object]) -> service.CampaignInput:
    text = {k: str(form.get(k, "") or "").strip() for k in form}
    return service.CampaignInput(
        name=text.get("name", ""),
        segment_id=_int(text.get("segmentId")) or 0,
        template_id=_int(text.get("templateId")) or 0,
        purpose=Purpose.TRANSACTIONAL
        if text.get("purpose") == Purpose.TRANSACTIONAL.value
        else Purpose.MARKETING,
        holdout_share=text.get("holdoutShare") or "0",
        throttle_per_minute=int(text["throttlePerMinute"])
        if text.get("throttlePerMinute", "").lstrip("-").isdigit()
        else None,
        attribution_days=int(text["attributionDays"])
        if text.get("attributionDays", "").lstrip("-").isdigit()
        else 7,
        cost_per_message=text.get("costPerMessage") or "0",
    )


async def _list(
    ctx: Ctx,
    status: int = 200,
    errors: dict[str, list[str]] | None = None,
    form: Mapping[str, object] | None = None,
) -> Response:
    return ctx.render(
        "campaigns.html",
        status=status,
        title=N_("Campaigns"),
        campaigns=await ctx.scope.query(Campaign).order_by("-id").limit(200),
        segments=await ctx.scope.query(Segment).order_by("name"),
        templates=await ctx.scope.query(MessageTemplate).order_by("name"),
        errors=errors or {},
        form=form or {},
    )


@page("/campaigns", "campaigns", permission=Scope.READ, title=N_("Campaigns"), nav_group="Members")
async def campaigns(ctx: Ctx) -> Response:
    return await _list(ctx)


@page("/campaigns/new", "campaign_create", permission=Scope.MANAGE, methods=("POST",))
async def create_campaign(ctx: Ctx) -> Response:
    form = await ctx.form()
    values = _input(form)
    try:
        async with ctx.once(str(form.get("idempotency_key", ""))) as first:
            if not first:
                ctx.replayed()
                return ctx.redirect(ctx.url("campaigns"))
            row = await ctx.audited(
                "createCampaign",
                {"name": values.name},
                lambda: service.create_campaign(ctx.scope, values),
            )
    except DomainError as error:
        return await _list(ctx, 422, errors_of(error), dict(form))
    ctx.flash(ctx.gettext("Campaign saved as a draft."))
    return ctx.redirect(ctx.url("campaign", campaign_id=row.id))


@page("/campaigns/{campaign_id:int}", "campaign", permission=Scope.READ)
async def campaign(ctx: Ctx) -> Response:
    row = await ctx.row(Campaign, "campaign_id")
    if row is None:
        return ctx.not_found()
    return ctx.render(
        "campaign.html",
        title=row.name,
        campaign=row,
        counts=await sending.counts(ctx.scope, row.id),
        segment=await ctx.scope.get(Segment, row.segment_id) if row.segment_id else None,
        message_template=await ctx.scope.get(MessageTemplate, row.template_id),
        actions=[(a, ACTION_LABELS[a]) for a in ACTIONS.get(row.status, ())],
    )


@page(
    "/campaigns/{campaign_id:int}/act",
    "campaign_act",
    permission=Scope.MANAGE,
    methods=("POST",),
)
async def act(ctx: Ctx) -> Response:
    row = await ctx.row(Campaign, "campaign_id")
    if row is None:
        return ctx.not_found()
    action = str((await ctx.form()).get("action", ""))
    try:
        if action == "delete":
            await ctx.audited(
                "deleteCampaign",
                {"id": row.id},
                lambda: service.delete_campaign(ctx.scope, row.id),
            )
            ctx.flash(ctx.gettext("Draft deleted."))
            return ctx.redirect(ctx.url("campaigns"))
        if action not in CALLS:
            return ctx.not_found()
        name, call = CALLS[action]
        await ctx.audited(name, {"id": row.id}, lambda: call(ctx.scope, row.id))
    except DomainError as error:
        ctx.flash(error.message, "error")
    return ctx.redirect(ctx.url("campaign", campaign_id=row.id))
