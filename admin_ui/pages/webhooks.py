"""The brand's webhook subscriptions (owners, as the admin scope): create —
the signing secret is shown once —, disable and enable, rotate the secret,
delete; and the delivery log with response codes, where a delivery is
replayed. Every change is the service call GraphQL makes (docs/webhooks.md)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from starlette.responses import Response

from tessera.admin_ui.context import SECRET_SENT_BEFORE, Ctx, errors_of, shown_once
from tessera.admin_ui.i18n import N_
from tessera.admin_ui.registry import page
from tessera.auth.scopes import Scope
from tessera.errors import DomainError
from tessera.webhooks import service
from tessera.webhooks.events import ALL, EVENT_TYPES
from tessera.webhooks.models import DeliveryStatus

LOG_SIZE = 50
# The delivery statuses, as the log shows them (marked for the catalogs).
STATUS_LABELS = (N_("pending"), N_("delivered"), N_("failed"), N_("dead"))


async def _list(
    ctx: Ctx,
    status: int = 200,
    errors: dict[str, list[str]] | None = None,
    secret: str | None = None,
    form: Mapping[str, object] | None = None,
) -> Response:
    scope = ctx.scope
    hooks = await service.subscriptions(scope).order_by("id")
    params = ctx.request.query_params
    shown = next((h for h in hooks if str(h.id) == params.get("subscription")), None)
    wanted = params.get("status", "")
    status_filter = DeliveryStatus(wanted) if wanted in set(DeliveryStatus) else None
    log = (
        await service.deliveries(scope, shown.id, status_filter).order_by("-id").limit(LOG_SIZE)
        if shown
        else []
    )
    response = ctx.render(
        "webhooks.html",
        status=status,
        title=N_("Webhooks"),
        hooks=hooks,
        shown=shown,
        log=log,
        statuses=[s.value for s in DeliveryStatus],
        status_filter=wanted if status_filter else "",
        event_types=list(EVENT_TYPES),
        errors=errors or {},
        secret=secret,
        form=form or {},
    )
    # The secret goes into this response only (never a redirect, a session or a log).
    return shown_once(response) if secret else response


@page("/webhooks", "webhooks", permission=Scope.ADMIN, title=N_("Webhooks"), nav_group="Settings")
async def webhooks(ctx: Ctx) -> Response:
    return await _list(ctx)


@page("/webhooks/new", "webhook_create", permission=Scope.ADMIN, methods=("POST",))
async def create(ctx: Ctx) -> Response:
    form = await ctx.form()
    url = str(form.get("url", "")).strip()
    description = str(form.get("description", ""))
    types = [str(t) for t in form.getlist("event_types")]
    if ALL in types:
        types = [ALL]
    try:
        async with ctx.once(str(form.get("idempotency_key", ""))) as first:
            if not first:
                ctx.replayed(SECRET_SENT_BEFORE)
                return ctx.redirect(ctx.url("webhooks"))
            made = await ctx.audited(
                "createWebhookSubscription",
                {"url": url, "eventTypes": types, "description": description},
                lambda: service.create_subscription(ctx.scope, url, types, description),
            )
    except DomainError as error:
        kept = {"url": url, "description": description, "event_types": types}
        return await _list(ctx, 422, _form_errors(error), form=kept)
    return await _list(ctx, secret=made.secret)


def _form_errors(error: DomainError) -> dict[str, list[str]]:
    # The service names API fields (eventTypes); the form's are snake_case.
    found = errors_of(error)
    if "eventTypes" in found:
        found["event_types"] = found.pop("eventTypes")
    return found


async def _subscription_or_404(ctx: Ctx) -> int:
    pk: int = ctx.request.path_params["subscription_id"]
    await service.require_subscription(ctx.scope, pk)
    return pk


@page(
    "/webhooks/{subscription_id:int}/active",
    "webhook_active",
    permission=Scope.ADMIN,
    methods=("POST",),
)
async def set_active(ctx: Ctx) -> Response:
    active = str((await ctx.form()).get("active", "")) == "1"
    try:
        pk = await _subscription_or_404(ctx)
        await ctx.audited(
            "updateWebhookSubscription",
            {"id": pk, "active": active},
            lambda: service.update_subscription(ctx.scope, pk, active=active),
        )
    except DomainError:
        return ctx.not_found()
    ctx.flash(ctx.gettext("Webhook enabled.") if active else ctx.gettext("Webhook disabled."))
    return ctx.redirect(ctx.url("webhooks"))


@page(
    "/webhooks/{subscription_id:int}/rotate",
    "webhook_rotate",
    permission=Scope.ADMIN,
    methods=("POST",),
)
async def rotate(ctx: Ctx) -> Response:
    try:
        pk = await _subscription_or_404(ctx)
        made = await ctx.audited(
            "rotateWebhookSecret",
            {"id": pk, "overlapHours": 24},
            lambda: service.rotate_secret(ctx.scope, pk, timedelta(hours=24)),
        )
    except DomainError:
        return ctx.not_found()
    return await _list(ctx, secret=made.secret)


@page(
    "/webhooks/{subscription_id:int}/delete",
    "webhook_delete",
    permission=Scope.ADMIN,
    methods=("POST",),
)
async def delete(ctx: Ctx) -> Response:
    try:
        pk = await _subscription_or_404(ctx)
        await ctx.audited(
            "deleteWebhookSubscription",
            {"id": pk},
            lambda: service.delete_subscription(ctx.scope, pk),
        )
    except DomainError:
        return ctx.not_found()
    ctx.flash(ctx.gettext("Webhook deleted."))
    return ctx.redirect(ctx.url("webhooks"))


@page(
    "/webhooks/deliveries/{delivery_id:int}/replay",
    "webhook_replay",
    permission=Scope.ADMIN,
    methods=("POST",),
)
async def replay(ctx: Ctx) -> Response:
    pk: int = ctx.request.path_params["delivery_id"]
    try:
        delivery = await ctx.audited(
            "replayWebhookDelivery",
            {"id": pk},
            lambda: service.replay_delivery(ctx.scope, pk),
        )
    except DomainError as error:
        if error.code == "NOT_FOUND":
            return ctx.not_found()
        message = (
            N_("Enable the webhook before replaying its deliveries.")
            if error.code == "SUBSCRIPTION_DISABLED"
            else N_("The delivery is waiting to be sent already.")
        )
        ctx.flash(ctx.gettext(message), "error")
        return ctx.redirect(ctx.url("webhooks"))
    ctx.flash(ctx.gettext("Delivery queued again."))
    return ctx.redirect(ctx.url("webhooks") + f"?subscription={delivery.subscription_id}")
