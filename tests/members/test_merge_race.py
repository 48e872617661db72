"""Writes to both members while they are merged: every earn and redeem lands
once (on the survivor when it came after the merge), nothing is lost or
doubled, and the ledger verifies. On PostgreSQL the calls really run at once
(row locks decide the order); on SQLite one writer at a time."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from merge_helpers import ledger_problems, lots_of

from tessera.assets import service
from tessera.assets.models import AssetAccount, LedgerEntry
from tessera.behaviour.models import BehaviourEvent
from tessera.behaviour.service import EventInput, record_events
from tessera.errors import DomainError
from tessera.members import merge
from tessera.members.service import create_member
from tessera.orders.inputs import LineInput, MemberRef, OrderInput
from tessera.orders.models import MemberStats, Order
from tessera.orders.money import MoneyAmount
from tessera.orders.stats import rebuild_member_stats
from tessera.pipeline.orders import record_orders
from tessera.scope import BrandScope
from tessera.uow import unit_of_work

CALLS = 40


async def attempt(coro):
    try:
        return await coro
    except DomainError as error:
        return error


async def test_earns_and_redeems_on_both_members_during_the_merge(brand_a):
    scope = BrandScope(brand_a)
    s = (await create_member(scope, {"name": "s"}, identities=[("app_user_id", "s")])).id
    m = (await create_member(scope, {"name": "m"}, identities=[("app_user_id", "m")])).id
    for i in range(5):
        for member in (s, m):
            await service.earn_points(
                scope, member, 20, idempotency_key=f"seed-{member}-{i}", reason="t", source_type="t"
            )
    start = 200
    rng = random.Random(17)
    calls = []
    for i in range(CALLS):
        member = rng.choice((s, m))
        if i % 2:
            calls.append(
                (
                    "earn",
                    7,
                    service.earn_points(
                        scope, member, 7, idempotency_key=f"e{i}", reason="t", source_type="t"
                    ),
                )
            )
        else:
            calls.append(
                (
                    "redeem",
                    9,
                    service.redeem_points(
                        scope, member, 9, idempotency_key=f"r{i}", reason="t", source_type="t"
                    ),
                )
            )
    merging = merge.merge_members(scope, s, m, idempotency_key="race")
    coros = [attempt(c) for _, _, c in calls]
    coros.insert(CALLS // 2, attempt(merging))
    results = await asyncio.gather(*coros)
    merged = results.pop(CALLS // 2)
    assert isinstance(merged, merge.MergeResult), merged

    earned = redeemed = 0
    for (what, amount, _), result in zip(calls, results, strict=True):
        if isinstance(result, DomainError):
            # Only a redeem may be refused, and only for want of points.
            assert (what, result.code) == ("redeem", "INSUFFICIENT_POINTS"), result
            continue
        entries = await scope.query(LedgerEntry).filter(
            idempotency_key=result.entry.idempotency_key
        )
        assert len(entries) == 1  # applied exactly once
        assert entries[0].member_id == s  # wherever it went first, it is the survivor's now
        if what == "earn":
            earned += amount
        else:
            redeemed += amount
    assert earned == 7 * (CALLS // 2)  # no earn is lost
    balance = (await service.balances(scope, [s]))[s].points
    assert balance == start + earned - redeemed
    assert await scope.query(AssetAccount).filter(member_id=m).count() == 0
    assert await scope.query(LedgerEntry).filter(member_id=m).count() == 0
    assert await lots_of(scope, s) == balance
    assert await ledger_problems(scope) == []
    # Both members' redeems that were refused were refused for real: the
    # balance never went below zero on the way.
    entries = await scope.query(LedgerEntry).filter(member_id=s, kind="points")
    assert all(e.balance_after >= 0 for e in entries)


ROUNDS = 8
BATCHES = 10


@pytest.mark.postgres_only
async def test_orders_and_events_recorded_for_the_merged_member_during_the_merge(brand_a):
    """Orders (``recordOrders``) and behaviour events for the merged member
    racing the merge: none stays on the tombstone, whichever commits first."""
    scope = BrandScope(brand_a)
    at = datetime.now(UTC) - timedelta(days=1)
    rng = random.Random(23)

    def order(key: str, member: int) -> OrderInput:
        return OrderInput(
            external_id=key,
            member=MemberRef(member_id=member),
            occurred_at=at,
            amount_paid=MoneyAmount(Decimal("10.00"), "CNY"),
            lines=[LineInput(sku="T", quantity=1, unit_price=MoneyAmount(Decimal("10.00"), "CNY"))],
        )

    def event(key: str, member: int) -> EventInput:
        return EventInput(
            event_id=key, member=MemberRef(member_id=member), type="product.viewed", occurred_at=at
        )

    for r in range(ROUNDS):
        s = (await create_member(scope, {"name": "s"}, identities=[("app_user_id", f"s{r}")])).id
        m = (await create_member(scope, {"name": "m"}, identities=[("app_user_id", f"m{r}")])).id

        async def orders(task: int, member: int = m, r: int = r) -> None:
            # Batch after batch, so some start before the merge, some while
            # it runs and some after it.
            for i in range(BATCHES):
                keys = [f"o{r}-{task}-{i}-{j}" for j in range(3)]
                result = await record_orders(scope, [order(k, member) for k in keys])
                assert not [x for x in result if isinstance(x, DomainError)], result

        async def events(member: int = m, r: int = r) -> None:
            for i in range(BATCHES):
                keys = [f"e{r}-{i}-{j}" for j in range(3)]
                result = await record_events(scope, [event(k, member) for k in keys])
                assert not [x for x in result if isinstance(x, DomainError)], result

        async def merging(s: int = s, m: int = m, r: int = r) -> None:
            await asyncio.sleep(rng.random() / 50)  # lets the writers get going
            await merge.merge_members(scope, s, m, idempotency_key=f"r{r}")

        await asyncio.gather(orders(0), orders(1), events(), merging())
        assert await scope.query(Order).filter(member_id=m).count() == 0
        assert await scope.query(BehaviourEvent).filter(member_id=m).count() == 0
        assert await scope.query(Order).filter(member_id=s).count() == 2 * 3 * BATCHES
        assert await scope.query(BehaviourEvent).filter(member_id=s).count() == 3 * BATCHES
        kept = (
            await scope.query(MemberStats).filter(member_id=s).values("orders_count", "gross_spent")
        )
        async with unit_of_work(scope) as uow:
            await rebuild_member_stats(scope, uow.connection, [s])
        rebuilt = (
            await scope.query(MemberStats).filter(member_id=s).values("orders_count", "gross_spent")
        )
        assert kept == rebuilt
        assert rebuilt[0]["orders_count"] == 2 * 3 * BATCHES
    assert await ledger_problems(scope) == []
