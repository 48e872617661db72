"""From committed domain events to webhook deliveries.

Registered in :data:`tessera.uow.FOLLOW_UPS`: a unit of work whose events
include types a webhook may subscribe to writes, in its own transaction, one
``webhooks_fanout`` outbox entry carrying those events, each with a fresh
event id. So an event is never lost between the commit and the send: if the
change commits, the entry commits with it; if it rolls back, nothing is sent.

The fan-out job (after the commit) matches the events against the brand's
active subscriptions and writes one :class:`WebhookDelivery` per match, with
an id derived from the event id and the subscription, plus an outbox entry
per delivery for its first attempt. Run twice (a lease ran out, a worker
died), it writes the same ids again, which the unique key ignores.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

from tessera.outbox.store import FollowUp
from tessera.plugin_host.events import DomainEvent
from tessera.scope import BrandScope
from tessera.tenancy.models import Brand
from tessera.uow import UnitOfWork, unit_of_work
from tessera.webhooks import events as catalogue
from tessera.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookSubscription

FANOUT_JOB = "webhooks_fanout"


# Whether a brand has an active subscription, as this process last read it
# (monotonic deadline, answer). Most brands have none, and then a unit of
# work writes no fan-out: no outbox row, no job. A subscription made in this
# process is seen at once (``forget``); other processes see it within
# ``ACTIVE_CHECK_S``, and events before that are not sent to it. Disabling
# needs no such care: the fan-out reads the active subscriptions itself.
ACTIVE_CHECK_S = 10.0
_has_subscriptions: dict[int, tuple[float, bool]] = {}
_clock = time.monotonic  # a test moves it on


def forget(brand_id: int | None = None) -> None:
    """Read the brand's (or every brand's) subscriptions again at its next event."""
    if brand_id is None:
        _has_subscriptions.clear()
    else:
        _has_subscriptions.pop(brand_id, None)


async def _subscribed(uow: UnitOfWork) -> bool:
    brand_id, now = uow.scope.brand_id, _clock()
    known = _has_subscriptions.get(brand_id)
    if known is not None and known[0] > now:
        return known[1]
    found = await (
        uow.scope.query(WebhookSubscription).using_db(uow.connection).filter(active=True).exists()
    )
    _has_subscriptions[brand_id] = (now + ACTIVE_CHECK_S, found)
    return found


async def follow_ups(events: list[DomainEvent], uow: UnitOfWork) -> list[FollowUp]:
    brands = {e.brand_id for e in events if e.name in catalogue.EVENT_TYPES}
    # Asked first (cached): a brand without subscriptions costs no event ids
    # (a bulk load emits thousands of events a commit).
    if not brands or (brands == {uow.scope.brand_id} and not await _subscribed(uow)):
        return []
    by_brand: dict[int, list[dict[str, Any]]] = {}
    for event in events:
        if event.name in catalogue.EVENT_TYPES:
            by_brand.setdefault(event.brand_id, []).append(
                {
                    "id": str(uuid.uuid4()),
                    "type": event.name,
                    "occurred_at": event.occurred_at.isoformat(),
                    "data": event.payload,
                }
            )
    return [FollowUp(FANOUT_JOB, (brand_id, found)) for brand_id, found in by_brand.items()]


def delivery_id(event_id: str, subscription_id: int) -> uuid.UUID:
    return uuid.uuid5(uuid.UUID(event_id), str(subscription_id))


def _wants(subscription: WebhookSubscription, event_type: str) -> bool:
    types = subscription.event_types or []
    return catalogue.ALL in types or event_type in types


async def scope_of(brand_id: int) -> BrandScope | None:
    # A brand deleted since the work was written took its rows with it.
    brand = await Brand.get_or_none(id=brand_id)
    return BrandScope(brand) if brand is not None else None


async def webhooks_fanout(ctx: dict[str, Any], brand_id: int, events: list[dict[str, Any]]) -> int:
    """Write the deliveries of ``events`` and queue their first attempts;
    returns how many deliveries the events made."""
    from tessera.webhooks.service import schedule_send

    scope = await scope_of(brand_id)
    if scope is None:
        return 0
    active = await scope.query(WebhookSubscription).filter(active=True).order_by("id")
    if not active:
        return 0
    now = datetime.now(UTC)
    rows: list[WebhookDelivery] = []
    for event in events:
        occurred_at = datetime.fromisoformat(event["occurred_at"])
        for subscription in active:
            if not _wants(subscription, event["type"]):
                continue
            ident = delivery_id(event["id"], subscription.id)
            rows.append(
                scope.build(
                    WebhookDelivery,
                    delivery_id=ident,
                    subscription_id=subscription.id,
                    event_type=event["type"],
                    payload=catalogue.body(
                        str(ident), event["type"], occurred_at, scope.brand.code, event["data"]
                    ),
                    next_attempt_at=now,
                )
            )
    if not rows:
        return 0
    async with unit_of_work(scope) as uow:
        await scope.insert_many(WebhookDelivery, rows, uow.connection, ignore_conflicts=True)
        fresh: list[int] = await (
            scope.query(WebhookDelivery)
            .using_db(uow.connection)
            .filter(
                delivery_id__in=[row.delivery_id for row in rows],
                status=DeliveryStatus.PENDING,
                attempts=0,
            )
            .order_by("id")
            .values_list("id", flat=True)  # type: ignore[assignment]
        )
        for pk in fresh:
            # The key: a second fan-out of the same events while the first
            # attempt still waits does not queue a second one.
            schedule_send(uow, pk, key=f"webhooks_send:{pk}")
    return len(rows)
