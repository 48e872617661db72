"""Outbound webhooks: a brand's subscriptions and their delivery log (admin
scope: a subscription sends the brand's data to a URL of the caller's
choosing). See docs/webhooks.md."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from tessera.schema.errors import UserError
from tessera.schema.ids import encode_id, require_id
from tessera.schema.pagination import Connection, Window, paginate
from tessera.schema.permissions import CanAdmin
from tessera.webhooks import models, service
from tessera.webhooks.events import EVENT_TYPES

WebhookDeliveryStatus = strawberry.enum(
    models.DeliveryStatus,
    name="WebhookDeliveryStatus",
    description="Where a webhook delivery stands.",
)


@strawberry.type(description="A URL that receives a brand's events, signed (docs/webhooks.md).")
class WebhookSubscription:
    pk: strawberry.Private[int]
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    url: str = strawberry.field(description="Where the events are POSTed.")
    description: str = strawberry.field(description="What it is for, for operators.")
    event_types: list[str] = strawberry.field(
        description='The event types it receives; `["*"]` for all.'
    )
    active: bool = strawberry.field(description="False: nothing is sent until it is enabled.")
    consecutive_failures: int = strawberry.field(description="Failed attempts since the last 2xx.")
    disabled_at: datetime | None = strawberry.field(description="When it was switched off.")
    disabled_reason: str = strawberry.field(
        description="Why: by whom, or the failures that switched it off."
    )
    created_at: datetime = strawberry.field(description="When it was created.")

    @classmethod
    def from_model(cls, row: models.WebhookSubscription) -> WebhookSubscription:
        return cls(
            pk=row.id,
            id=strawberry.ID(encode_id("WebhookSubscription", row.id)),
            url=row.url,
            description=row.description,
            event_types=list(row.event_types or []),
            active=row.active,
            consecutive_failures=row.consecutive_failures,
            disabled_at=row.disabled_at,
            disabled_reason=row.disabled_reason,
            created_at=row.created_at,
        )


@strawberry.type(description="One event sent (or to be sent) to one subscription.")
class WebhookDelivery:
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    delivery_id: str = strawberry.field(
        description="The `Tessera-Webhook-Id` sent with every attempt, the receiver's "
        "deduplication key."
    )
    subscription_id: strawberry.ID = strawberry.field(description="Its subscription.")
    event_type: str = strawberry.field(description="E.g. `order.recorded`.")
    payload: JSON = strawberry.field(description="The JSON body sent.")
    status: WebhookDeliveryStatus = strawberry.field(description="Where it stands.")  # type: ignore[valid-type]
    attempts: int = strawberry.field(description="Attempts since it was created or replayed.")
    next_attempt_at: datetime | None = strawberry.field(description="When it is tried next.")
    last_attempt_at: datetime | None = strawberry.field(description="When it was last tried.")
    last_response_code: int | None = strawberry.field(
        description="The HTTP status of the last attempt; null when there was no response."
    )
    last_error: str = strawberry.field(description="What went wrong last; empty on success.")
    created_at: datetime = strawberry.field(description="When the event was fanned out.")
    delivered_at: datetime | None = strawberry.field(description="When a 2xx came back.")

    @classmethod
    def from_model(cls, row: models.WebhookDelivery) -> WebhookDelivery:
        return cls(
            id=strawberry.ID(encode_id("WebhookDelivery", row.id)),
            delivery_id=str(row.delivery_id),
            subscription_id=strawberry.ID(encode_id("WebhookSubscription", row.subscription_id)),
            event_type=row.event_type,
            payload=cast(JSON, row.payload),
            status=row.status,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            last_attempt_at=row.last_attempt_at,
            last_response_code=row.last_response_code,
            last_error=row.last_error,
            created_at=row.created_at,
            delivered_at=row.delivered_at,
        )


@strawberry.type(description="An event type a webhook can subscribe to.")
class WebhookEventType:
    name: str = strawberry.field(description="E.g. `order.recorded`.")
    description: str = strawberry.field(description="When it is sent.")


@strawberry.type
class WebhooksQuery:
    @strawberry.field(
        description="The brand's webhook subscriptions, oldest first. Needs the admin scope.",
        permission_classes=[CanAdmin],
    )
    async def webhook_subscriptions(self, info: Info) -> list[WebhookSubscription]:
        rows = await service.subscriptions(info.context.scope).order_by("id")
        return [WebhookSubscription.from_model(row) for row in rows]

    @strawberry.field(
        description="The event types webhooks can subscribe to. Needs the admin scope.",
        permission_classes=[CanAdmin],
    )
    def webhook_event_types(self) -> list[WebhookEventType]:
        return [
            WebhookEventType(name=e.name, description=e.description) for e in EVENT_TYPES.values()
        ]

    @strawberry.field(
        description="The delivery log, newest first, of one subscription or all, optionally "
        "of one status. Needs the admin scope.",
        permission_classes=[CanAdmin],
    )
    async def webhook_deliveries(
        self,
        info: Info,
        subscription_id: strawberry.ID | None = None,
        status: WebhookDeliveryStatus | None = None,  # type: ignore[valid-type]
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[WebhookDelivery]:
        scope = info.context.scope
        pk: int | None = None
        if subscription_id is not None:
            pk = require_id(subscription_id, "WebhookSubscription", "subscriptionId")
            await service.require_subscription(scope, pk, "subscriptionId")
        query = service.deliveries(scope, pk, status)
        return await paginate(
            query,
            Window(first, after),
            cap=info.context.settings.limits.page_size,
            to_node=WebhookDelivery.from_model,
            descending=True,
        )


@strawberry.input(description="A new webhook subscription.")
class CreateWebhookSubscriptionInput:
    url: str = strawberry.field(
        description="Where to POST. https in production; never a private or loopback address "
        "outside development."
    )
    event_types: list[str] = strawberry.field(
        description='Event types to receive (see `webhookEventTypes`), or `["*"]` for all.'
    )
    description: str = strawberry.field(default="", description="What it is for.")


@strawberry.input(description="Changes to a webhook subscription; omitted fields stay.")
class UpdateWebhookSubscriptionInput:
    id: strawberry.ID = strawberry.field(description="The subscription.")
    url: str | None = strawberry.field(default=None, description="Where to POST.")
    event_types: list[str] | None = strawberry.field(
        default=None, description="Event types to receive."
    )
    description: str | None = strawberry.field(default=None, description="What it is for.")
    active: bool | None = strawberry.field(
        default=None,
        description="false stops sending (pending deliveries end `DEAD`); true starts again "
        "and clears the failure count.",
    )


@strawberry.input(description="The subscription whose signing secret to replace.")
class RotateWebhookSecretInput:
    id: strawberry.ID = strawberry.field(description="The subscription.")
    overlap_hours: int = strawberry.field(
        default=24,
        description="Hours the old secret keeps signing beside the new one (0-720; 0 drops "
        "it at once, after a leak).",
    )


@strawberry.input(description="The subscription to delete, with its delivery log.")
class DeleteWebhookSubscriptionInput:
    id: strawberry.ID = strawberry.field(description="The subscription.")


@strawberry.input(description="The delivery to send again.")
class ReplayWebhookDeliveryInput:
    id: strawberry.ID = strawberry.field(description="The delivery.")


@strawberry.type(description="Result of changing a webhook subscription.")
class WebhookSubscriptionPayload:
    subscription: WebhookSubscription | None = strawberry.field(
        default=None, description="The subscription as now stored."
    )
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")


@strawberry.type(description="Result of creating a subscription or rotating its secret.")
class WebhookSecretPayload:
    subscription: WebhookSubscription | None = strawberry.field(
        default=None, description="The subscription as now stored."
    )
    secret: str | None = strawberry.field(
        default=None,
        description="The new signing secret. Shown this once: store it with the receiver.",
    )
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")


@strawberry.type(description="Result of deleting a webhook subscription.")
class DeleteWebhookSubscriptionPayload:
    deleted_id: strawberry.ID | None = strawberry.field(
        default=None, description="Id of what was deleted."
    )
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")


@strawberry.type(description="Result of replaying a webhook delivery.")
class ReplayWebhookDeliveryPayload:
    delivery: WebhookDelivery | None = strawberry.field(
        default=None, description="The delivery, pending again."
    )
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")


def _subscription_id(opaque: strawberry.ID) -> int:
    return require_id(opaque, "WebhookSubscription", "id")


@strawberry.type
class WebhooksMutation:
    @strawberry.mutation(
        description="Subscribe a URL to the brand's events. Returns the signing secret once. "
        "Needs the admin scope.",
        permission_classes=[CanAdmin],
    )
    async def create_webhook_subscription(
        self, info: Info, input: CreateWebhookSubscriptionInput
    ) -> WebhookSecretPayload:
        made = await service.create_subscription(
            info.context.scope, input.url, input.event_types, input.description
        )
        return WebhookSecretPayload(
            subscription=WebhookSubscription.from_model(made.subscription),
            secret=made.secret,
            errors=[],
        )

    @strawberry.mutation(
        description="Change, disable or enable a webhook subscription. Needs the admin scope.",
        permission_classes=[CanAdmin],
    )
    async def update_webhook_subscription(
        self, info: Info, input: UpdateWebhookSubscriptionInput
    ) -> WebhookSubscriptionPayload:
        row = await service.update_subscription(
            info.context.scope,
            _subscription_id(input.id),
            url=input.url,
            event_types=input.event_types,
            description=input.description,
            active=input.active,
        )
        return WebhookSubscriptionPayload(
            subscription=WebhookSubscription.from_model(row), errors=[]
        )

    @strawberry.mutation(
        description="Replace the signing secret; the old one keeps signing for `overlapHours`, "
        "so both verify meanwhile. Returns the new secret once. Needs the admin scope.",
        permission_classes=[CanAdmin],
    )
    async def rotate_webhook_secret(
        self, info: Info, input: RotateWebhookSecretInput
    ) -> WebhookSecretPayload:
        made = await service.rotate_secret(
            info.context.scope, _subscription_id(input.id), timedelta(hours=input.overlap_hours)
        )
        return WebhookSecretPayload(
            subscription=WebhookSubscription.from_model(made.subscription),
            secret=made.secret,
            errors=[],
        )

    @strawberry.mutation(
        description="Delete a webhook subscription and its delivery log. Needs the admin scope.",
        permission_classes=[CanAdmin],
    )
    async def delete_webhook_subscription(
        self, info: Info, input: DeleteWebhookSubscriptionInput
    ) -> DeleteWebhookSubscriptionPayload:
        await service.delete_subscription(info.context.scope, _subscription_id(input.id))
        return DeleteWebhookSubscriptionPayload(deleted_id=input.id, errors=[])

    @strawberry.mutation(
        description="Send a delivery again, with the same delivery id and body and a fresh "
        "run of retries. Needs the admin scope.",
        permission_classes=[CanAdmin],
    )
    async def replay_webhook_delivery(
        self, info: Info, input: ReplayWebhookDeliveryInput
    ) -> ReplayWebhookDeliveryPayload:
        row = await service.replay_delivery(
            info.context.scope, require_id(input.id, "WebhookDelivery", "id")
        )
        return ReplayWebhookDeliveryPayload(delivery=WebhookDelivery.from_model(row), errors=[])
