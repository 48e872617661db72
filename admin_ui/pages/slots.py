"""Personalisation slots: the brand's slots with their last error; per slot,
its banner creatives (add, edit, delete), a preview as a given member, and
the A/B results with Wilson intervals. Every change is the service call
GraphQL makes (docs/slots.md); the manage scope, as there."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from starlette.responses import Response

from tessera.admin_ui.context import Ctx, errors_of
from tessera.admin_ui.i18n import N_
from tessera.admin_ui.registry import page
from tessera.auth.scopes import Scope
from tessera.errors import DomainError, DomainErrors
from tessera.features.models import BrandFeature
from tessera.plugin_host.components import ComponentFamily
from tessera.slots import creatives as service
from tessera.slots import tracking
from tessera.slots.creatives import AUDIENCE_KINDS, Audience
from tessera.slots.models import SlotCreative
from tessera.slots.resolve import resolve

# Form fields, as the service names them (its errors name the API's camelCase).
FIELDS = ("title", "image_url", "link", "alt_text", "priority", "split_group", "split_weight")
CAMEL = {
    "imageUrl": "image_url",
    "altText": "alt_text",
    "splitGroup": "split_group",
    "splitWeight": "split_weight",
    "startsAt": "starts_at",
    "endsAt": "ends_at",
    "kind": "audience_kind",
    "values": "audience_values",
    "segmentId": "segment_id",
}
AUDIENCE_LABELS = (
    N_("everyone"),
    N_("segment"),
    N_("tags"),
    N_("tier"),
    N_("lifecycle"),
)


async def _slot(ctx: Ctx) -> BrandFeature | None:
    row = await ctx.row(BrandFeature, "slot_id")
    return row if row is not None and row.family == ComponentFamily.SLOT_KIND.value else None


@page("/slots", "slots", permission=Scope.MANAGE, title=N_("Slots"), nav_group="Members")
async def slot_list(ctx: Ctx) -> Response:
    slots = (
        await ctx.scope.query(BrandFeature)
        .filter(family=ComponentFamily.SLOT_KIND.value)
        .order_by("instance")
    )
    return ctx.render("slots.html", title=N_("Slots"), slots=slots)


def _int(text: str, name: str, problems: list[DomainError]) -> int | None:
    if not text.strip():
        return None
    try:
        return int(text)
    except ValueError:
        problems.append(DomainError("INVALID", "a whole number", [name]))
        return None


def _time(text: str, name: str, problems: list[DomainError]) -> datetime | None:
    if not text.strip():
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        problems.append(DomainError("INVALID", "a date and time", [name]))
        return None


def _values(form: Mapping[str, Any]) -> tuple[dict[str, Any], Audience, list[DomainError]]:
    problems: list[DomainError] = []
    values: dict[str, Any] = {n: str(form.get(n, "")) for n in FIELDS}
    values["priority"] = _int(values["priority"], "priority", problems) or 0
    values["split_weight"] = _int(values["split_weight"], "splitWeight", problems) or 1
    values["fallback"] = form.get("fallback") == "on"
    # A datetime-local input has no offset: the brand's local time, as in the API.
    values["starts_at"] = _time(str(form.get("starts_at", "")), "startsAt", problems)
    values["ends_at"] = _time(str(form.get("ends_at", "")), "endsAt", problems)
    kind = str(form.get("audience_kind", "everyone"))
    audience = Audience(
        kind=kind,
        values=tuple(v.strip() for v in str(form.get("audience_values", "")).split(",")),
        segment_id=_int(str(form.get("segment_id", "")), "segmentId", problems),
    )
    return values, audience, problems


def _form_errors(error: DomainError) -> dict[str, list[str]]:
    found = errors_of(error)
    return {CAMEL.get(name, name): messages for name, messages in found.items()}


def _form_of(row: SlotCreative | None, ctx: Ctx) -> dict[str, Any]:
    if row is None:
        return {"audience_kind": "everyone", "priority": 0, "split_weight": 1}

    def local(moment: datetime | None) -> str:
        if moment is None:
            return ""
        return moment.astimezone(ZoneInfo(ctx.fmt.timezone)).strftime("%Y-%m-%dT%H:%M")

    return {
        **{n: getattr(row, n) for n in FIELDS},
        "fallback": row.fallback,
        "starts_at": local(row.starts_at),
        "ends_at": local(row.ends_at),
        "audience_kind": row.audience_kind,
        "audience_values": ", ".join(row.audience_values or []),
        "segment_id": row.segment_id or "",
    }


async def _show(
    ctx: Ctx,
    slot: BrandFeature,
    *,
    status: int = 200,
    errors: dict[str, list[str]] | None = None,
    form: Mapping[str, Any] | None = None,
    editing: SlotCreative | None = None,
) -> Response:
    scope = ctx.scope
    rows = await service.creatives(scope, slot.instance).order_by("-priority", "id")
    results = await tracking.slot_results(scope, slot.instance)
    preview = None
    preview_error = None
    wanted = ctx.request.query_params.get("member", "")
    if "member" in ctx.request.query_params:
        member = int(wanted) if wanted.isdigit() else 0
        try:
            preview = await resolve(scope, slot.instance, member or None)
        except DomainError as error:
            preview_error = error.message
    return ctx.render(
        "slot.html",
        status=status,
        title=N_("Slot"),
        slot=slot,
        creatives=rows,
        results=results,
        preview=preview,
        preview_error=preview_error,
        preview_member=wanted,
        audience_kinds=AUDIENCE_KINDS,
        errors=errors or {},
        form=form if form is not None else _form_of(editing, ctx),
        editing=editing,
    )


@page("/slots/{slot_id:int}", "slot", permission=Scope.MANAGE)
async def slot_page(ctx: Ctx) -> Response:
    slot = await _slot(ctx)
    if slot is None:
        return ctx.not_found()
    editing = None
    if "edit" in ctx.request.query_params:
        wanted = ctx.request.query_params["edit"]
        editing = await ctx.scope.get(SlotCreative, int(wanted)) if wanted.isdigit() else None
        if editing is None or editing.slot != slot.instance:
            return ctx.not_found()
    return await _show(ctx, slot, editing=editing)


@page(
    "/slots/{slot_id:int}/creatives",
    "slot_creative_create",
    permission=Scope.MANAGE,
    methods=("POST",),
)
async def create(ctx: Ctx) -> Response:
    slot = await _slot(ctx)
    if slot is None:
        return ctx.not_found()
    form = await ctx.form()
    values, audience, problems = _values(form)
    try:
        if problems:
            raise DomainErrors(problems)
        async with ctx.once(str(form.get("idempotency_key", ""))) as first:
            if not first:
                ctx.replayed()
                return ctx.redirect(ctx.url("slot", slot_id=slot.id))
            await ctx.audited(
                "createSlotCreative",
                {"slot": slot.instance, "title": values["title"]},
                lambda: service.create_creative(ctx.scope, slot.instance, values, audience),
            )
    except DomainError as error:
        return await _show(ctx, slot, status=422, errors=_form_errors(error), form=dict(form))
    ctx.flash(ctx.gettext("Creative added."))
    return ctx.redirect(ctx.url("slot", slot_id=slot.id))


async def _creative(ctx: Ctx, slot: BrandFeature) -> SlotCreative | None:
    row = await ctx.row(SlotCreative, "creative_id")
    return row if row is not None and row.slot == slot.instance else None


@page(
    "/slots/{slot_id:int}/creatives/{creative_id:int}",
    "slot_creative_update",
    permission=Scope.MANAGE,
    methods=("POST",),
)
async def update(ctx: Ctx) -> Response:
    slot = await _slot(ctx)
    row = await _creative(ctx, slot) if slot is not None else None
    if slot is None or row is None:
        return ctx.not_found()
    form = await ctx.form()
    values, audience, problems = _values(form)
    try:
        if problems:
            raise DomainErrors(problems)
        await ctx.audited(
            "updateSlotCreative",
            {"id": row.id, "title": values["title"]},
            lambda: service.update_creative(ctx.scope, row.id, values, audience),
        )
    except DomainError as error:
        return await _show(
            ctx, slot, status=422, errors=_form_errors(error), form=dict(form), editing=row
        )
    ctx.flash(ctx.gettext("Creative saved."))
    return ctx.redirect(ctx.url("slot", slot_id=slot.id))


@page(
    "/slots/{slot_id:int}/creatives/{creative_id:int}/delete",
    "slot_creative_delete",
    permission=Scope.MANAGE,
    methods=("POST",),
)
async def delete(ctx: Ctx) -> Response:
    slot = await _slot(ctx)
    row = await _creative(ctx, slot) if slot is not None else None
    if slot is None or row is None:
        return ctx.not_found()
    await ctx.audited(
        "deleteSlotCreative", {"id": row.id}, lambda: service.delete_creative(ctx.scope, row.id)
    )
    ctx.flash(ctx.gettext("Creative deleted."))
    return ctx.redirect(ctx.url("slot", slot_id=slot.id))
