"""A brand without webhook subscriptions pays nothing for webhooks: its units
of work write no fan-out. A process learns of a subscription made elsewhere
within ``ACTIVE_CHECK_S``; one made in the process itself, at once."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from tessera.orders.inputs import MemberRef, OrderInput
from tessera.orders.money import MoneyAmount
from tessera.outbox.models import OutboxEntry
from tessera.pipeline.orders import record_order
from tessera.scope import BrandScope
from tessera.webhooks import service, triggers
from tessera.webhooks.models import WebhookSubscription
from tessera.webhooks.signing import Secrets, new_secret


def order(member_id: int, external_id: str) -> OrderInput:
    return OrderInput(
        external_id=external_id,
        member=MemberRef(member_id=member_id),
        occurred_at=datetime(2026, 3, 1, 10, 30, tzinfo=UTC),
        amount_paid=MoneyAmount(Decimal("10.00"), "CNY"),
    )


async def fanouts(brand) -> int:
    return await BrandScope(brand).query(OutboxEntry).filter(kind=triggers.FANOUT_JOB).count()


async def test_no_subscription_no_fanout_and_a_new_one_here_is_seen_at_once(
    brand_a, new_member, webhook_receiver
):
    scope = BrandScope(brand_a)
    ann = await new_member(brand_a, name="Ann", phone="13800138000")
    await record_order(scope, order(ann.pk, "o-1"))
    assert await fanouts(brand_a) == 0
    await service.create_subscription(scope, webhook_receiver.url, ["order.recorded"])
    await record_order(scope, order(ann.pk, "o-2"))
    assert await fanouts(brand_a) == 1


async def test_a_subscription_made_by_another_process_is_seen_within_the_check_interval(
    brand_a, new_member, tessera_runtime, webhook_receiver, monkeypatch
):
    scope = BrandScope(brand_a)
    ann = await new_member(brand_a, name="Ann", phone="13800138000")
    await record_order(scope, order(ann.pk, "o-1"))  # this process now knows: none
    # Another process's insert: nothing here is told.
    await scope.create(
        WebhookSubscription,
        url=webhook_receiver.url,
        event_types=["*"],
        secrets=Secrets(new_secret()).seal(tessera_runtime.settings.secret()),
    )
    await record_order(scope, order(ann.pk, "o-2"))
    assert await fanouts(brand_a) == 0  # within the interval
    later = triggers._clock() + triggers.ACTIVE_CHECK_S + 1
    monkeypatch.setattr(triggers, "_clock", lambda: later)
    await record_order(scope, order(ann.pk, "o-3"))
    assert await fanouts(brand_a) == 1
