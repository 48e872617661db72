"""Retention deletes only the old rows of the brand it runs for, and
anonymises inactive members through the erasure, holds respected."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tessera.assets import service as assets
from tessera.behaviour.models import BehaviourEvent
from tessera.behaviour.service import EventInput, record_events
from tessera.errors import DomainError
from tessera.members.models import Member
from tessera.members.service import create_member
from tessera.orders.inputs import MemberRef
from tessera.privacy import retention
from tessera.privacy.erasure import set_legal_hold
from tessera.privacy.settings import get_settings, update_settings
from tessera.scope import BrandScope
from tessera.webhooks.models import WebhookDelivery, WebhookSubscription

NOW = datetime.now(UTC).replace(microsecond=0)


async def _events(scope: BrandScope, member_id: int, days_ago: list[int], tag: str) -> None:
    results = await record_events(
        scope,
        [
            EventInput(
                f"{tag}-{d}", MemberRef(member_id=member_id), "page.view", NOW - timedelta(days=d)
            )
            for d in days_ago
        ],
        now=NOW,
    )
    assert not any(isinstance(r, DomainError) for r in results)


async def _delivery(scope: BrandScope, subscription_id: int, days_ago: int, status: str) -> None:
    row = await scope.create(
        WebhookDelivery,
        delivery_id=f"00000000-0000-0000-0000-{days_ago:06d}{len(status):06d}",
        subscription_id=subscription_id,
        event_type="order.recorded",
        payload={},
        status=status,
    )
    await (
        scope.query(WebhookDelivery)
        .filter(id=row.id)
        .update(created_at=NOW - timedelta(days=days_ago))
    )


async def test_deletes_only_old_rows_of_its_brand(brand_a, brand_b, monkeypatch):
    monkeypatch.setattr(retention, "BATCH", 2)  # several batches
    a, b = BrandScope(brand_a), BrandScope(brand_b)
    ma = await create_member(a, {"name": "A"}, identities=[("app_user_id", "a1")])
    mb = await create_member(b, {"name": "B"}, identities=[("app_user_id", "b1")])
    await _events(a, ma.id, [1, 10, 40, 41, 42, 100, 200], "a")
    await _events(b, mb.id, [1, 40, 200], "b")
    sub = await a.create(
        WebhookSubscription, url="https://example.com", event_types=["*"], secrets=""
    )
    for days, status in ((1, "delivered"), (60, "delivered"), (60, "failed"), (60, "pending")):
        await _delivery(a, sub.id, days, status)
    await update_settings(a, {"behaviour_event_days": 30, "webhook_delivery_days": 30})

    report = await retention.run_retention(a, NOW)

    assert report.behaviour_events == 5 and report.webhook_deliveries == 2
    kept = await a.query(BehaviourEvent).order_by("occurred_at").values_list("event_id", flat=True)
    assert sorted(kept) == ["a-1", "a-10"]
    assert await b.query(BehaviourEvent).count() == 3  # brand B set nothing
    assert sorted(await a.query(WebhookDelivery).values_list("status", flat=True)) == [
        "delivered", "pending",
    ]  # fmt: skip


async def test_inactive_members_are_anonymised_unless_held_or_holding_money(brand_a):
    scope = BrandScope(brand_a)
    old = NOW - timedelta(days=400)

    async def member(name: str, **facts: object) -> Member:
        m = await create_member(
            scope,
            {"name": name, "phone": facts.get("phone")} if facts.get("phone") else {"name": name},
            identities=[("app_user_id", name)],
            joined_at=old,
        )
        await scope.query(Member).filter(id=m.id).update(updated_at=old)
        return m

    idle = await member("idle", phone="+8613800000001")
    recent_event = await member("recent-event")
    await _events(scope, recent_event.id, [5], "re")
    held = await member("held")
    await set_legal_hold(scope, held.id, True, "audit 2025")
    await scope.query(Member).filter(id=held.id).update(updated_at=old)
    with_money = await member("with-money")
    await assets.top_up_stored_value(
        scope, with_money.id, 500, idempotency_key="sv", now=old, reason="old"
    )
    await scope.query(Member).filter(id=with_money.id).update(updated_at=old)
    young = await create_member(scope, {"name": "young"}, identities=[("app_user_id", "young")])

    await update_settings(scope, {"inactive_member_days": 365})
    report = await retention.run_retention(scope, NOW)

    assert report.members_anonymised == [idle.id]
    statuses = dict(await scope.query(Member).values_list("name", "status"))
    assert statuses[""] == "erased"
    assert {statuses[n] for n in ("recent-event", "held", "with-money", "young")} == {"active"}
    assert young.id not in report.members_anonymised
    # A second run finds nothing more.
    assert (await retention.run_retention(scope, NOW)).members_anonymised == []


async def test_settings_are_checked(brand_a):
    scope = BrandScope(brand_a)
    assert (await get_settings(scope)).behaviour_event_days is None
    with pytest.raises(DomainError) as refused:
        await update_settings(scope, {"behaviour_event_days": 0, "inactive_member_days": 5})
    assert {tuple(e.field) for e in refused.value.errors} == {
        ("behaviourEventDays",),
        ("inactiveMemberDays",),
    }
    await update_settings(scope, {"behaviour_event_days": 90})
    assert (await get_settings(scope)).behaviour_event_days == 90
    await update_settings(scope, {"behaviour_event_days": None})
    assert (await get_settings(scope)).behaviour_event_days is None
