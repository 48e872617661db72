"""Managing a brand's webhook subscriptions and replaying deliveries: the
services GraphQL and the admin UI both call."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.queryset import QuerySet

from tessera import runtime
from tessera.errors import DomainError
from tessera.outbox.store import FollowUp
from tessera.scope import BrandScope
from tessera.uow import UnitOfWork, unit_of_work
from tessera.webhooks import triggers
from tessera.webhooks.addresses import check_url
from tessera.webhooks.events import ALL, EVENT_TYPES
from tessera.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookSubscription
from tessera.webhooks.signing import Secrets, new_secret

MAX_DESCRIPTION = 200
DEFAULT_OVERLAP = timedelta(hours=24)
MAX_OVERLAP = timedelta(days=30)
SEND_JOB = "webhooks_send"


@dataclass(frozen=True)
class WithSecret:
    """A subscription and its new signing secret: shown once, never again."""

    subscription: WebhookSubscription
    secret: str


def _now() -> datetime:
    return datetime.now(UTC)


def clean_event_types(values: Sequence[str], field: list[str] | None = None) -> list[str]:
    where = field or ["eventTypes"]
    cleaned = sorted({v.strip() for v in values if v.strip()})
    if not cleaned:
        raise DomainError("REQUIRED", "subscribe to at least one event type, or *", where)
    if ALL in cleaned:
        return [ALL]
    unknown = [v for v in cleaned if v not in EVENT_TYPES]
    if unknown:
        raise DomainError("UNKNOWN_EVENT_TYPE", f"no such event type: {', '.join(unknown)}", where)
    return cleaned


def _description(value: str) -> str:
    value = value.strip()
    if len(value) > MAX_DESCRIPTION:
        raise DomainError(
            "TOO_LONG", f"a description has at most {MAX_DESCRIPTION} characters", ["description"]
        )
    return value


def subscriptions(scope: BrandScope) -> QuerySet[WebhookSubscription]:
    return scope.query(WebhookSubscription)


async def require_subscription(
    scope: BrandScope, subscription_id: int | None, field: str = "id"
) -> WebhookSubscription:
    found = await scope.get(WebhookSubscription, subscription_id) if subscription_id else None
    if found is None:
        raise DomainError("NOT_FOUND", "no such webhook subscription", [field])
    return found


async def create_subscription(
    scope: BrandScope, url: str, event_types: Sequence[str], description: str = ""
) -> WithSecret:
    settings = runtime.current().settings
    checked = await check_url(url, settings)
    types = clean_event_types(event_types)
    secret = new_secret()
    async with unit_of_work(scope) as uow:
        subscription = await scope.create(
            WebhookSubscription,
            using_db=uow.connection,
            url=checked,
            event_types=types,
            description=_description(description),
            secrets=Secrets(secret).seal(settings.secret()),
        )
    triggers.forget(scope.brand_id)
    return WithSecret(subscription, secret)


async def update_subscription(
    scope: BrandScope,
    subscription_id: int,
    *,
    url: str | None = None,
    event_types: Sequence[str] | None = None,
    description: str | None = None,
    active: bool | None = None,
) -> WebhookSubscription:
    """Change what was given. Enabling clears the failure count; disabling
    records who did it; pending deliveries of a disabled subscription are
    dropped (marked dead) when their turn comes."""
    subscription = await require_subscription(scope, subscription_id)
    changes: dict[str, object] = {}
    if url is not None:
        changes["url"] = await check_url(url, runtime.current().settings)
    if event_types is not None:
        changes["event_types"] = clean_event_types(event_types)
    if description is not None:
        changes["description"] = _description(description)
    if active is True and not subscription.active:
        changes.update(active=True, consecutive_failures=0, disabled_at=None, disabled_reason="")
    elif active is False and subscription.active:
        changes.update(
            active=False, disabled_at=_now(), disabled_reason=f"disabled by {scope.actor}"
        )
    if changes:
        async with unit_of_work(scope) as uow:
            await (
                subscriptions(scope)
                .using_db(uow.connection)
                .filter(id=subscription.id)
                .update(**changes)
            )
            if changes.get("active") is False:
                await abandon_pending(uow, subscription.id)
        if changes.get("active") is True:
            triggers.forget(scope.brand_id)
        subscription = await require_subscription(scope, subscription.id)
    return subscription


async def rotate_secret(
    scope: BrandScope, subscription_id: int, overlap: timedelta = DEFAULT_OVERLAP
) -> WithSecret:
    """A new current secret; the old one keeps signing for ``overlap`` (0
    drops it at once, after a leak), so receivers can switch over."""
    if overlap < timedelta(0) or overlap > MAX_OVERLAP:
        raise DomainError(
            "OUT_OF_RANGE", "the overlap is between 0 and 720 hours", ["overlapHours"]
        )
    subscription = await require_subscription(scope, subscription_id)
    key = runtime.current().settings.secret()
    secret = new_secret()
    now = _now()
    sealed = Secrets.open(key, subscription.secrets).rotated(secret, now, overlap)
    if overlap == timedelta(0):
        sealed = Secrets(secret)
    async with unit_of_work(scope) as uow:
        await (
            subscriptions(scope)
            .using_db(uow.connection)
            .filter(id=subscription.id)
            .update(secrets=sealed.seal(key))
        )
    return WithSecret(await require_subscription(scope, subscription.id), secret)


async def delete_subscription(scope: BrandScope, subscription_id: int) -> None:
    """Delete the subscription with its delivery log."""
    subscription = await require_subscription(scope, subscription_id)
    async with unit_of_work(scope) as uow:
        await subscriptions(scope).using_db(uow.connection).filter(id=subscription.id).delete()


def deliveries(
    scope: BrandScope, subscription_id: int | None = None, status: DeliveryStatus | None = None
) -> QuerySet[WebhookDelivery]:
    query = scope.query(WebhookDelivery)
    if subscription_id is not None:
        query = query.filter(subscription_id=subscription_id)
    if status is not None:
        query = query.filter(status=status)
    return query


async def abandon_pending(uow: UnitOfWork, subscription_id: int) -> int:
    """Mark the subscription's waiting deliveries ``DEAD`` (it was disabled):
    their queued attempts then find nothing to do. Replay sends them later."""
    pending = deliveries(uow.scope, subscription_id, DeliveryStatus.PENDING)
    abandoned: int = await pending.using_db(uow.connection).update(
        status=DeliveryStatus.DEAD, next_attempt_at=None, last_error="subscription disabled"
    )
    return abandoned


def schedule_send(
    uow: UnitOfWork, delivery_pk: int, delay_s: float = 0.0, key: str | None = None
) -> None:
    """Queue an attempt of the delivery through the outbox, in ``uow``'s
    transaction: the attempt exists exactly when the change that needs it
    commits."""
    uow.follow_ups.append(
        FollowUp(SEND_JOB, (uow.scope.brand_id, delivery_pk), delay_s=delay_s, key=key)
    )


async def replay_delivery(scope: BrandScope, delivery_pk: int) -> WebhookDelivery:
    """Send a delivery again, with the same id and body and a fresh run of
    retries. Its subscription must be active."""
    delivery = await scope.get(WebhookDelivery, delivery_pk)
    if delivery is None:
        raise DomainError("NOT_FOUND", "no such webhook delivery", ["id"])
    if delivery.status is DeliveryStatus.PENDING:
        # Its attempt is queued already; a second would race it.
        raise DomainError("DELIVERY_PENDING", "the delivery is waiting to be sent already", ["id"])
    subscription = await require_subscription(scope, delivery.subscription_id)
    if not subscription.active:
        raise DomainError(
            "SUBSCRIPTION_DISABLED", "enable the subscription before replaying", ["id"]
        )
    now = _now()
    async with unit_of_work(scope) as uow:
        await (
            deliveries(scope)
            .using_db(uow.connection)
            .filter(id=delivery.id)
            .update(status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=now)
        )
        schedule_send(uow, delivery.id)
    return await deliveries(scope).get(id=delivery.id)
