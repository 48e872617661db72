"""Channels in the admin UI: message templates with a preview for a chosen
member, trigger rules, and the message log with each held-back message's
reason. Every change is the service call GraphQL makes (docs/channels.md)."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import Response

from tessera.admin_ui.context import Ctx, errors_of
from tessera.admin_ui.i18n import N_
from tessera.admin_ui.registry import page
from tessera.auth.scopes import Scope
from tessera.channels import rendering, service
from tessera.channels.models import Channel, MessageStatus, MessageTemplate, Purpose, TriggerRule
from tessera.channels.triggers import TRIGGERS
from tessera.errors import DomainError

LOG_SIZE = 100
# Shown in the log and the forms (marked for the catalogs).
LABELS = (
    N_("queued"),
    N_("held"),
    N_("deferred"),
    N_("sent"),
    N_("delivered"),
    N_("failed"),
    N_("rejected"),
    N_("transactional"),
    N_("marketing"),
)


def _template_values(form: Mapping[str, object]) -> dict[str, str]:
    return {
        name: str(form.get(name, "") or "")
        for name in ("name", "channel", "subject", "body", "html", "provider_template")
    }


async def _templates(
    ctx: Ctx,
    status: int = 200,
    errors: dict[str, list[str]] | None = None,
    form: Mapping[str, object] | None = None,
) -> Response:
    rows = await service.templates(ctx.scope).order_by("name")
    return ctx.render(
        "channel_templates.html",
        status=status,
        title=N_("Message templates"),
        templates=rows,
        channels=[c.value for c in Channel],
        variables=sorted(rendering.VARIABLES),
        errors=errors or {},
        form=form or {},
    )


@page(
    "/channels/templates",
    "channel_templates",
    permission=Scope.MANAGE,
    title=N_("Message templates"),
    nav_group="Settings",
)
async def templates(ctx: Ctx) -> Response:
    return await _templates(ctx)


@page(
    "/channels/templates/new", "channel_template_create", permission=Scope.MANAGE, methods=("POST",)
)
async def create_template(ctx: Ctx) -> Response:
    form = await ctx.form()
    values = _template_values(form)
    try:
        channel = Channel(values["channel"])
    except ValueError:
        return await _templates(ctx, 422, {"channel": [ctx.gettext("Choose a channel.")]}, values)
    try:
        async with ctx.once(str(form.get("idempotency_key", ""))) as first:
            if not first:
                ctx.replayed()
                return ctx.redirect(ctx.url("channel_templates"))
            row = await ctx.audited(
                "createMessageTemplate",
                {"name": values["name"], "channel": channel.value},
                lambda: service.create_template(
                    ctx.scope,
                    name=values["name"],
                    channel=channel,
                    body=values["body"],
                    subject=values["subject"],
                    html=values["html"],
                    provider_template=values["provider_template"],
                ),
            )
    except DomainError as error:
        return await _templates(ctx, 422, errors_of(error), values)
    ctx.flash(ctx.gettext("Template saved."))
    return ctx.redirect(ctx.url("channel_template", message_template_id=row.id))


async def _template_page(
    ctx: Ctx,
    template: MessageTemplate,
    status: int = 200,
    errors: dict[str, list[str]] | None = None,
    form: Mapping[str, object] | None = None,
) -> Response:
    preview = None
    preview_error = None
    length = None
    wanted = ctx.request.query_params.get("member", "").strip()
    if wanted.isdigit():
        try:
            preview = await service.preview_template(ctx.scope, template.id, int(wanted))
            if template.channel is Channel.SMS:
                length = rendering.sms_length(preview.body)
        except DomainError as error:
            preview_error = error.message
    return ctx.render(
        "channel_template.html",
        status=status,
        title=template.name,
        message_template=template,
        preview=preview,
        preview_error=preview_error,
        sms=length,
        member=wanted,
        errors=errors or {},
        form=form
        or {
            "name": template.name,
            "subject": template.subject,
            "body": template.body,
            "html": template.html,
            "provider_template": template.provider_template,
        },
    )


@page(
    "/channels/templates/{message_template_id:int}",
    "channel_template",
    permission=Scope.MANAGE,
    methods=("GET", "POST"),
)
async def template(ctx: Ctx) -> Response:
    row = await ctx.row(MessageTemplate, "message_template_id")
    if row is None:
        return ctx.not_found()
    if ctx.request.method == "GET":
        return await _template_page(ctx, row)
    values = _template_values(await ctx.form())
    try:
        row = await ctx.audited(
            "updateMessageTemplate",
            {"id": row.id},
            lambda: service.update_template(
                ctx.scope,
                row.id,
                name=values["name"],
                body=values["body"],
                subject=values["subject"],
                html=values["html"],
                provider_template=values["provider_template"],
            ),
        )
    except DomainError as error:
        return await _template_page(ctx, row, 422, errors_of(error), values)
    ctx.flash(ctx.gettext("Template saved."))
    return ctx.redirect(ctx.url("channel_template", message_template_id=row.id))


@page(
    "/channels/templates/{message_template_id:int}/delete",
    "channel_template_delete",
    permission=Scope.MANAGE,
    methods=("POST",),
)
async def delete_template(ctx: Ctx) -> Response:
    row = await ctx.row(MessageTemplate, "message_template_id")
    if row is None:
        return ctx.not_found()
    try:
        await ctx.audited(
            "deleteMessageTemplate",
            {"id": row.id},
            lambda: service.delete_template(ctx.scope, row.id),
        )
    except DomainError as error:
        ctx.flash(error.message, "error")
        return ctx.redirect(ctx.url("channel_template", message_template_id=row.id))
    ctx.flash(ctx.gettext("Template deleted."))
    return ctx.redirect(ctx.url("channel_templates"))


async def _triggers(
    ctx: Ctx, status: int = 200, errors: dict[str, list[str]] | None = None
) -> Response:
    rows = await service.trigger_rules(ctx.scope).order_by("event", "id")
    names = dict(await service.templates(ctx.scope).values_list("id", "name"))
    return ctx.render(
        "channel_triggers.html",
        status=status,
        title=N_("Trigger rules"),
        rules=rows,
        template_names=names,
        triggers=TRIGGERS,
        purposes=[p.value for p in Purpose],
        errors=errors or {},
    )


@page(
    "/channels/triggers",
    "channel_triggers",
    permission=Scope.MANAGE,
    title=N_("Trigger rules"),
    nav_group="Settings",
)
async def triggers(ctx: Ctx) -> Response:
    return await _triggers(ctx)


@page(
    "/channels/triggers/new", "channel_trigger_create", permission=Scope.MANAGE, methods=("POST",)
)
async def create_trigger(ctx: Ctx) -> Response:
    form = await ctx.form()
    event = str(form.get("event", ""))
    template_id = str(form.get("template_id", ""))
    delay = str(form.get("delay_minutes", "0") or "0")
    try:
        purpose = Purpose(str(form.get("purpose", "")))
    except ValueError:
        return await _triggers(ctx, 422, {"purpose": [ctx.gettext("Choose a purpose.")]})
    if not template_id.isdigit() or not delay.lstrip("-").isdigit():
        return await _triggers(ctx, 422, {"": [ctx.gettext("Choose a template and a delay.")]})
    try:
        async with ctx.once(str(form.get("idempotency_key", ""))) as first:
            if not first:
                ctx.replayed()
                return ctx.redirect(ctx.url("channel_triggers"))
            await ctx.audited(
                "createTriggerRule",
                {"event": event, "templateId": int(template_id)},
                lambda: service.create_trigger_rule(
                    ctx.scope,
                    event=event,
                    template_id=int(template_id),
                    purpose=purpose,
                    delay_minutes=int(delay),
                ),
            )
    except DomainError as error:
        return await _triggers(ctx, 422, errors_of(error))
    ctx.flash(ctx.gettext("Trigger rule saved."))
    return ctx.redirect(ctx.url("channel_triggers"))


@page(
    "/channels/triggers/{rule_id:int}/active",
    "channel_trigger_active",
    permission=Scope.MANAGE,
    methods=("POST",),
)
async def trigger_active(ctx: Ctx) -> Response:
    row = await ctx.row(TriggerRule, "rule_id")
    if row is None:
        return ctx.not_found()
    active = str((await ctx.form()).get("active", "")) == "1"
    await ctx.audited(
        "updateTriggerRule",
        {"id": row.id, "active": active},
        lambda: service.update_trigger_rule(ctx.scope, row.id, active=active),
    )
    return ctx.redirect(ctx.url("channel_triggers"))


@page(
    "/channels/triggers/{rule_id:int}/delete",
    "channel_trigger_delete",
    permission=Scope.MANAGE,
    methods=("POST",),
)
async def trigger_delete(ctx: Ctx) -> Response:
    row = await ctx.row(TriggerRule, "rule_id")
    if row is None:
        return ctx.not_found()
    await ctx.audited(
        "deleteTriggerRule", {"id": row.id}, lambda: service.delete_trigger_rule(ctx.scope, row.id)
    )
    ctx.flash(ctx.gettext("Trigger rule deleted."))
    return ctx.redirect(ctx.url("channel_triggers"))


@page(
    "/channels/messages",
    "channel_messages",
    permission=Scope.READ,
    title=N_("Message log"),
    nav_group="Members",
)
async def messages(ctx: Ctx) -> Response:
    wanted = ctx.request.query_params.get("status", "")
    query = service.messages(ctx.scope)
    if wanted in set(MessageStatus):
        query = query.filter(status=MessageStatus(wanted))
    else:
        wanted = ""
    rows = await query.order_by("-id").limit(LOG_SIZE)
    names = dict(await service.templates(ctx.scope).values_list("id", "name"))
    return ctx.render(
        "channel_messages.html",
        title=N_("Message log"),
        messages=rows,
        template_names=names,
        statuses=[s.value for s in MessageStatus],
        status_filter=wanted,
    )
