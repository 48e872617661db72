"""A batch recorded as a set (tessera.pipeline.orders.record_orders) leaves
exactly what recording its orders one at a time leaves: orders, lines,
statistics, ledger entries (with their running balances), lots, balances,
tier states and history, follow-up work — on random batches with repeated
external ids, unknown members, upgrades and gifts (hypothesis, both
databases); and two batches racing on PostgreSQL apply nothing twice.

The reference: the first valid item of each external id (in input order) is
recorded, the others answer from it; the recorded ones in time order (as the
batch computes rewards: each order sees the ones placed before it).
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter, defaultdict
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from loyalty_programme import T0, order, standard_programme
from tortoise import connections

from tessera.assets.models import AssetAccount, LedgerEntry, PointsLot
from tessera.assets.policy import set_policy
from tessera.errors import DomainError
from tessera.members.models import Member
from tessera.members.service import create_member
from tessera.orders.inputs import clean_order, nest_error
from tessera.orders.models import MemberStats, Order, OrderLine
from tessera.orders.service import OrderResult
from tessera.orders.stats import rebuild_stats
from tessera.outbox.models import OutboxEntry
from tessera.pipeline.orders import record_order, record_orders
from tessera.scope import BrandScope
from tessera.testing import drain_outbox, make_brand, record_database
from tessera.tiers.models import MemberTierState, TierHistory

MEMBERS = 4
UNKNOWN = MEMBERS  # a member index that names no member

# One item: member index (UNKNOWN: none), external id (a small pool, so ids
# repeat), lines of (quantity, unit price in units), minutes after T0.
items = st.tuples(
    st.integers(0, MEMBERS),
    st.integers(0, 11),
    st.lists(st.tuples(st.integers(1, 3), st.sampled_from([0, 40, 150, 400, 999])), max_size=2),
    st.integers(0, 60 * 24 * 40),
)
batches = st.lists(st.lists(items, min_size=1, max_size=12), min_size=1, max_size=2)

brand_numbers = itertools.count()


async def programme_brand() -> tuple[BrandScope, list[int]]:
    brand = await make_brand(f"eq-{next(brand_numbers)}")
    await standard_programme(brand, gift_points=300)
    scope = BrandScope(brand)
    # Purchase points are held for a return window: pending entries and lots.
    await set_policy(scope, pending_days=7)
    ids = []
    for i in range(MEMBERS):
        created = await create_member(
            scope, {"name": f"m{i}"}, identities=[("app_user_id", f"u{i}")], joined_at=T0
        )
        ids.append(created.id)
    await drain_outbox()
    return scope, ids


def inputs(batch: list[Any], member_ids: list[int], run: int) -> list[Any]:
    made = []
    for who, ext, lines, minutes in batch:
        member_id = member_ids[who] if who < MEMBERS else 10**9
        made.append(
            order(
                f"r{run}-o{ext}",
                member_id,
                T0 + timedelta(minutes=minutes),
                [(f"SKU-{n}", q, f"{p}.00", None) for n, (q, p) in enumerate(lines)],
                paid=None if lines else "10.00",
            )
        )
    return made


def outcome(result: OrderResult | DomainError) -> tuple[Any, ...]:
    if isinstance(result, DomainError):
        errors = getattr(result, "errors", [result])
        return ("error", tuple(sorted((e.code, tuple(e.field or [])) for e in errors)))
    return ("order", result.order.external_id, result.replayed)


async def one_at_a_time(scope: BrandScope, orders: list[Any]) -> list[tuple[Any, ...]]:
    first: dict[str, int] = {}
    for i, o in enumerate(orders):
        try:
            clean_order(o, "CNY", T0, [])
        except DomainError:
            continue  # refused as it stands: it names no order
        first.setdefault(o.external_id, i)
    answers: dict[int, tuple[Any, ...]] = {}
    leaders = sorted(first.values(), key=lambda i: orders[i].occurred_at)
    rest = [i for i in range(len(orders)) if i not in set(first.values())]
    for i in [*leaders, *rest]:
        try:
            result: OrderResult | DomainError = await record_order(scope, orders[i], now=T0)
        except DomainError as error:
            result = nest_error(error, ["orders", str(i)])
        answers[i] = outcome(result)
    return [answers[i] for i in range(len(orders))]


async def state_of(scope: BrandScope) -> dict[str, Any]:
    """Everything recording left, with ids replaced by what they stand for."""
    who = {m.id: m.name for m in await scope.query(Member).all()}
    ext = {o.id: o.external_id for o in await scope.query(Order).all()}
    history = list(await scope.query(TierHistory).order_by("id").select_related("to_tier"))
    gift = {h.id: (who[h.member_id], h.to_tier.code if h.to_tier else None) for h in history}
    tiers = {s.member_id: s for s in await scope.query(MemberTierState).select_related("tier")}

    def ref(entry: LedgerEntry) -> Any:
        if entry.source_type == "order":
            return ext[int(entry.source_ref or 0)]
        if entry.source_type == "tier_gift":
            return gift[int(entry.source_ref or 0)]
        return (entry.source_ref or "").replace(str(entry.member_id), who[entry.member_id])

    entries: dict[Any, list[Any]] = defaultdict(list)
    for e in await scope.query(LedgerEntry).order_by("id"):
        # The key names the source by id: with the source named as ref() does.
        key = e.idempotency_key.replace(f":{e.source_ref}:", f":{ref(e)}:")
        entries[(who[e.member_id], e.kind)].append(
            (e.entry_type, e.amount, e.balance_after, e.reason, e.source_type, ref(e), key,
             e.actor, len(e.fingerprint))
        )  # fmt: skip
    accounts = {a.id: (who[a.member_id], a.kind) for a in await scope.query(AssetAccount).all()}
    lots = sorted(
        (accounts[lot.account_id], lot.amount, lot.remaining, lot.status, lot.earned_at,
         lot.expires_at, lot.available_at)
        for lot in await scope.query(PointsLot).all()
    )  # fmt: skip
    return {
        "orders": sorted(
            (o.external_id, who[o.member_id], o.amount_paid, o.units, o.occurred_at, o.fingerprint)
            for o in await scope.query(Order).all()
        ),
        "lines": sorted(
            (ext[line.order_id], line.line_no, line.sku, line.quantity, line.paid_amount)
            for line in await scope.query(OrderLine).all()
        ),
        "stats": sorted(
            (
                who[s.member_id],
                s.orders_count,
                s.gross_spent,
                s.units_bought,
                s.first_order_at,
                s.last_order_at,
            )
            for s in await scope.query(MemberStats).all()
        ),  # fmt: skip
        "entries": dict(entries),
        "lots": lots,
        "balances": sorted(
            (accounts[a.id], a.balance, a.pending, a.reserved)
            for a in await scope.query(AssetAccount).all()
        ),
        "tiers": sorted(
            (who[m], s.tier.code if s.tier else None, s.since, s.expires_at, s.lapsed_tier_id)
            for m, s in tiers.items()
        ),
        "history": sorted(
            (
                who[h.member_id],
                h.to_tier.code if h.to_tier else None,
                h.reason,
                ext.get(int(h.source.split(":")[1]), h.source)
                if h.source.startswith("order:")
                else h.source.replace(str(h.member_id), who[h.member_id]),
                h.at,
                h.expires_at,
            )
            for h in history
        ),  # fmt: skip
        "follow_ups": Counter(o.kind for o in await scope.query(OutboxEntry).all()),
    }


def assert_ledger_adds_up(state: dict[str, Any]) -> None:
    for (member, kind), rows in state["entries"].items():
        # Pending and cancel entries move the held points, not the balance.
        balance = sum(a for entry_type, a, *_ in rows if entry_type not in ("pending", "cancel"))
        [(_, stored, _, _)] = [b for b in state["balances"] if b[0] == (member, kind)]
        assert stored == balance, (member, kind)


runs = itertools.count()


@settings(settings.get_profile("database-examples"), max_examples=15)
@given(recorded=batches)
def test_a_batch_leaves_what_one_order_at_a_time_leaves(session_loop, tessera_db, recorded):
    async def check() -> None:
        run = next(runs)
        together, together_ids = await programme_brand()
        alone, alone_ids = await programme_brand()
        for batch in recorded:
            answers = [
                outcome(r)
                for r in await record_orders(together, inputs(batch, together_ids, run), now=T0)
            ]
            expected = await one_at_a_time(alone, inputs(batch, alone_ids, run))
            assert answers == expected
        ours, theirs = await state_of(together), await state_of(alone)
        for part in theirs:
            assert ours[part] == theirs[part], part
        assert_ledger_adds_up(ours)

    session_loop.run_until_complete(check())


async def test_a_batch_upgrades_once_and_gifts_between_its_orders(tessera_db):
    scope, ids = await programme_brand()
    # 600 then 600 more: gold (from 1000) is reached on the second order, whose
    # points come before the gift; the third order earns at gold's x1.5.
    orders = [
        order(f"g-{n}", ids[0], T0 + timedelta(hours=n), [("SKU", 1, "600.00", None)])
        for n in range(3)
    ]
    answers = await record_orders(scope, orders, now=T0)
    assert [outcome(a) for a in answers] == [("order", f"g-{n}", False) for n in range(3)]
    state = await state_of(scope)
    points = state["entries"][("m0", "points")]
    assert [(t, a) for t, a, *_ in points] == [
        ("earn", 100),  # joining
        ("pending", 600),
        ("pending", 600),
        ("earn", 300),  # the gold gift
        ("pending", 900),
    ]
    upgrades = sorted((h[4], h[1], h[2], h[3]) for h in state["history"] if h[0] == "m0")
    assert [u[1:] for u in upgrades] == [
        ("silver", "upgrade", "activity:joined:m0"),
        ("gold", "upgrade", "g-1"),
    ]


@pytest.mark.postgres_only
async def test_two_batches_racing_apply_every_order_once(tessera_db):
    scope, ids = await programme_brand()
    first = [
        order(f"race-{n}", ids[n % MEMBERS], T0 + timedelta(minutes=n), [("S", 1, "300.00", None)])
        for n in range(0, 40)
    ]
    second = [
        order(f"race-{n}", ids[n % MEMBERS], T0 + timedelta(minutes=n), [("S", 1, "300.00", None)])
        for n in range(20, 60)
    ]
    a, b = await asyncio.gather(
        record_orders(scope, first, now=T0), record_orders(scope, second, now=T0)
    )
    for answer in [*a, *b]:
        assert isinstance(answer, OrderResult), answer
    recorded = {r.order.external_id for r in [*a, *b] if not r.replayed}
    assert recorded == {f"race-{n}" for n in range(60)}
    state = await state_of(scope)
    assert len(state["orders"]) == 60
    earned = Counter(
        (ref, kind) for (_, kind), rows in state["entries"].items()
        for _, _, _, _, source, ref, *_ in rows if source == "order"
    )  # fmt: skip
    # Every order earned its points exactly once.
    assert earned == {(f"race-{n}", "points"): 1 for n in range(60)}
    assert_ledger_adds_up(state)
    before = state["stats"]
    await rebuild_stats(scope)
    assert (await state_of(scope))["stats"] == before


async def test_a_batch_with_rewards_takes_as_many_round_trips_for_200_orders_as_for_4(
    tessera_db,
):
    scope, ids = await programme_brand()

    def batch(prefix: str, n: int) -> list[Any]:
        return [
            order(f"{prefix}-{i}", ids[i % MEMBERS], T0 + timedelta(minutes=i),
                  [("S", 1, "700.00", None)])
            for i in range(n)
        ]  # fmt: skip

    # The first orders upgrade (gold from 1000): the large batch does too.
    async with record_database() as small:
        await record_orders(scope, batch("s", 8), now=T0)
    async with record_database() as large:
        await record_orders(scope, batch("l", 200), now=T0)

    assert len(large.round_trips) == len(small.round_trips)
    # The ledger entries and their lots: one statement on PostgreSQL (the
    # lots in a CTE of the entries' insert), one multi-row insert each on
    # SQLite; the rollups' dirty days read the members' orders in one.
    writes = [s for s in large.statements if s.replace('"', "").count("INSERT INTO points_lot")]
    postgres = connections.get("default").capabilities.dialect == "postgres"
    assert len(writes) == 1
    assert ("INSERT INTO ledger_entry" in writes[0]) == postgres
    assert sum("MIN(f.occurred_at)" in s for s in large.statements) == 1
    history = await scope.query(TierHistory).filter(reason="upgrade", source__startswith="order:")
    assert len(history) == 2 * MEMBERS  # gold in the small batch, platinum in the large
