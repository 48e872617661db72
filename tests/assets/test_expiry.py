"""Points expiry, pending points and reversals, with the brand's clock moved
by hand: lots lapse at the end of a local day, once; held points are released
at the end of the window or cancelled by a refund inside it; the warning goes
out once, N days ahead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tessera.assets import expiry, service
from tessera.assets.models import AssetAccount, LedgerEntry, PointsLot
from tessera.assets.policy import PolicyValues, expires_at, pending_until, set_policy
from tessera.errors import DomainError
from tessera.scope import BrandScope

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI).astimezone(UTC)


async def earn(scope, member_id, amount, key, now, **kw):
    kw.setdefault("source_type", "order")
    return await service.earn_points(
        scope, member_id, amount, idempotency_key=key, reason="test", now=now, **kw
    )


async def account(scope) -> AssetAccount:
    return await scope.query(AssetAccount).get(kind="points")


@pytest.mark.parametrize(
    ("values", "earned", "lapses"),
    [
        (PolicyValues(), local(2026, 3, 15, 23, 59), None),
        # 12 rolling months: usable through 15 March next year, local time.
        (
            PolicyValues(expiry_mode="rolling_months"),
            local(2026, 3, 15, 23, 59),
            local(2027, 3, 16),
        ),
        # 31 January + 1 month: the end of February.
        (
            PolicyValues(expiry_mode="rolling_months", expiry_months=1),
            local(2026, 1, 31, 8),
            local(2026, 3, 1),
        ),
        (
            PolicyValues(expiry_mode="calendar_years", expiry_years=1),
            local(2026, 1, 1, 0, 30),
            local(2027, 1, 1),
        ),
        (
            PolicyValues(expiry_mode="calendar_years", expiry_years=2),
            local(2026, 12, 31, 23),
            local(2028, 1, 1),
        ),
    ],
)
def test_expiry_is_the_end_of_the_last_day_in_the_brands_timezone(values, earned, lapses):
    assert expires_at(values, "Asia/Shanghai", earned) == lapses


def test_the_pending_window_ends_at_a_local_day_end():
    values = PolicyValues(pending_days=7)
    assert pending_until(values, "Asia/Shanghai", local(2026, 3, 15, 23, 30)) == local(2026, 3, 23)
    assert pending_until(PolicyValues(), "Asia/Shanghai", local(2026, 3, 15)) is None


async def test_a_bad_policy_is_refused_naming_each_field(brand_a):
    scope = BrandScope(brand_a)
    with pytest.raises(DomainError) as caught:
        await set_policy(scope, expiry_mode="sometimes", pending_days=400, expiry_months=0)
    assert sorted((e.code, e.field[0]) for e in caught.value.errors) == [
        ("INVALID", "expiryMode"),
        ("OUT_OF_RANGE", "expiryMonths"),
        ("OUT_OF_RANGE", "pendingDays"),
    ]
    assert (await set_policy(scope)).expiry_mode == "never"


async def test_due_lots_expire_at_day_end_once_with_an_expire_entry(
    brand_a, make_member, ledger_consistent, events
):
    scope = BrandScope(brand_a)
    await set_policy(scope, expiry_mode="rolling_months", expiry_months=1)
    member = await make_member(brand_a)
    await earn(scope, member.id, 100, "old", now=local(2026, 1, 10, 12))
    await earn(scope, member.id, 30, "new", now=local(2026, 1, 20, 12))
    await service.redeem_points(
        scope,
        member.id,
        40,
        idempotency_key="r",
        reason="use",
        source_type="pos",
        now=local(2026, 1, 25),
    )

    assert await expiry.expire_due_lots(scope, now=local(2026, 2, 10, 23, 59)) == 0
    assert await expiry.expire_due_lots(scope, now=local(2026, 2, 11, 0, 0)) == 60
    assert await expiry.expire_due_lots(scope, now=local(2026, 2, 11, 1, 0)) == 0

    assert (await account(scope)).balance == 30
    expired = await scope.query(LedgerEntry).filter(entry_type="expire")
    assert [(e.amount, e.balance_after) for e in expired] == [(-60, 30)]
    assert [e.payload["delta"] for e in events.named("points.changed")][-1] == -60
    await ledger_consistent(brand_a)


async def test_a_fully_used_lot_expires_without_an_entry(brand_a, make_member, ledger_consistent):
    scope = BrandScope(brand_a)
    await set_policy(scope, expiry_mode="rolling_months", expiry_months=1)
    member = await make_member(brand_a)
    await earn(scope, member.id, 10, "e", now=local(2026, 1, 10))
    await service.redeem_points(
        scope,
        member.id,
        10,
        idempotency_key="r",
        reason="x",
        source_type="pos",
        now=local(2026, 1, 11),
    )

    await expiry.expire_due_lots(scope, now=local(2026, 3, 1))

    assert (await scope.query(PointsLot).get()).status == "expired"
    assert await scope.query(LedgerEntry).filter(entry_type="expire").count() == 0
    await ledger_consistent(brand_a)


async def test_pending_points_are_released_at_the_end_of_the_window(
    brand_a, make_member, ledger_consistent
):
    scope = BrandScope(brand_a)
    member = await make_member(brand_a)
    earned_at = local(2026, 5, 1, 10)
    policy = await set_policy(scope, pending_days=7)
    held_until = service.pending_window_end(scope, earned_at, policy)

    result = await earn(
        scope, member.id, 80, "o1", earned_at, source_ref="o1", pending_until=held_until
    )

    assert result.entry.entry_type == "pending" and result.balance == 0
    balances = (await service.balances(scope, [member.id]))[member.id]
    assert (balances.points, balances.pending_points) == (0, 80)
    # Pending points are not spendable: the redeem is refused for want of points.
    with pytest.raises(DomainError) as refused:
        await service.redeem_points(
            scope,
            member.id,
            1,
            idempotency_key="r",
            reason="x",
            source_type="pos",
            now=local(2026, 5, 2),
        )
    assert (refused.value.code, refused.value.field) == ("INSUFFICIENT_POINTS", ["points"])

    assert await expiry.release_due_pending(scope, now=local(2026, 5, 8, 23, 59)) == 0
    assert await expiry.release_due_pending(scope, now=local(2026, 5, 9)) == 80
    assert await expiry.release_due_pending(scope, now=local(2026, 5, 10)) == 0

    balances = (await service.balances(scope, [member.id]))[member.id]
    assert (balances.points, balances.pending_points) == (80, 0)
    await ledger_consistent(brand_a)


async def test_a_refund_inside_the_window_cancels_pending_points_not_the_balance(
    brand_a, make_member, ledger_consistent
):
    scope = BrandScope(brand_a)
    member = await make_member(brand_a)
    await earn(scope, member.id, 50, "earlier", local(2026, 4, 1))
    await earn(
        scope,
        member.id,
        80,
        "o1",
        local(2026, 5, 1),
        source_ref="o1",
        pending_until=local(2026, 5, 9),
    )

    partial = await service.reverse_points(
        scope,
        source_type="order",
        source_ref="o1",
        amount=30,
        idempotency_key="refund-1",
        now=local(2026, 5, 3),
    )
    rest = await service.reverse_points(
        scope,
        source_type="order",
        source_ref="o1",
        amount=50,
        idempotency_key="refund-2",
        now=local(2026, 5, 4),
    )
    with pytest.raises(DomainError) as caught:
        await service.reverse_points(
            scope,
            source_type="order",
            source_ref="o1",
            amount=1,
            idempotency_key="refund-3",
            now=local(2026, 5, 4),
        )

    assert caught.value.code == "EXCEEDS_EARNED"
    assert [e.entry_type for e in partial.entries + rest.entries] == ["cancel", "cancel"]
    acct = await account(scope)
    assert (acct.balance, acct.pending) == (50, 0)
    assert await expiry.release_due_pending(scope, now=local(2026, 5, 10)) == 0
    await ledger_consistent(brand_a)


async def test_a_refund_after_release_takes_the_orders_own_lot_first(
    brand_a, make_member, ledger_consistent
):
    scope = BrandScope(brand_a)
    await set_policy(scope, expiry_mode="rolling_months", expiry_months=12)
    member = await make_member(brand_a)
    await earn(scope, member.id, 20, "soon", local(2026, 1, 1))
    order = await earn(scope, member.id, 60, "o1", local(2026, 2, 1), source_ref="o1")

    result = await service.reverse_points(
        scope,
        source_type="order",
        source_ref="o1",
        amount=45,
        idempotency_key="refund",
        now=local(2026, 2, 2),
    )

    assert [(e.entry_type, e.amount, e.balance_after) for e in result.entries] == [
        ("reverse", -45, 35)
    ]
    own = await scope.query(PointsLot).get(entry_id=order.entry.id)
    assert own.remaining == 15
    await ledger_consistent(brand_a)


@pytest.mark.parametrize(
    ("policy", "balance", "taken"), [("allow_negative", -30, -50), ("cap_at_zero", 0, -20)]
)
async def test_a_reversal_beyond_the_balance_follows_the_brands_policy(
    brand_a, make_member, ledger_consistent, policy, balance, taken
):
    scope = BrandScope(brand_a)
    await set_policy(scope, negative_balance=policy)
    member = await make_member(brand_a)
    await earn(scope, member.id, 50, "o1", local(2026, 2, 1), source_ref="o1")
    await service.redeem_points(
        scope,
        member.id,
        30,
        idempotency_key="spent",
        reason="x",
        source_type="pos",
        now=local(2026, 2, 2),
    )

    result = await service.reverse_points(
        scope,
        source_type="order",
        source_ref="o1",
        amount=50,
        idempotency_key="refund",
        now=local(2026, 2, 3),
    )

    assert (result.balance, result.entry.amount) == (balance, taken)
    await ledger_consistent(brand_a)
    # Points earned while in debt pay it first; the lots show only what is left.
    after = await earn(scope, member.id, 100, "o2", local(2026, 2, 4), source_ref="o2")
    assert after.balance == balance + 100
    await ledger_consistent(brand_a)


async def test_members_are_warned_once_of_points_lapsing_within_the_window(
    brand_a, make_member, events
):
    scope = BrandScope(brand_a)
    await set_policy(scope, expiry_mode="rolling_months", expiry_months=1, expiring_soon_days=5)
    member = await make_member(brand_a)
    other = await make_member(brand_a)
    await earn(scope, member.id, 10, "a", local(2026, 1, 10))
    await earn(scope, member.id, 15, "b", local(2026, 1, 11))
    await earn(scope, other.id, 99, "c", local(2026, 1, 30))

    assert await expiry.warn_expiring(scope, now=local(2026, 2, 5, 9)) == 0
    assert await expiry.warn_expiring(scope, now=local(2026, 2, 7, 9)) == 1
    assert await expiry.warn_expiring(scope, now=local(2026, 2, 8, 9)) == 0

    [warning] = events.named("points.expiring_soon")
    assert warning.payload == {
        "member_id": member.id,
        "points": 25,
        "expires_at": local(2026, 2, 11).isoformat(),
        "within_days": 5,
    }


async def test_the_sweeps_touch_only_their_brand(brand_a, brand_b, make_member):
    for brand in (brand_a, brand_b):
        await set_policy(BrandScope(brand), expiry_mode="rolling_months", expiry_months=1)
        member = await make_member(brand)
        await earn(BrandScope(brand), member.id, 10, "e", local(2026, 1, 1))

    assert await expiry.expire_due_lots(BrandScope(brand_a), now=local(2026, 6, 1)) == 10

    b_account = await BrandScope(brand_b).query(AssetAccount).get()
    assert b_account.balance == 10


async def test_the_jobs_run_the_sweeps_for_a_brand(brand_a, make_member, tessera_db):
    from tessera.assets import jobs

    scope = BrandScope(brand_a)
    await set_policy(scope, expiry_mode="rolling_months", expiry_months=1)
    member = await make_member(brand_a)
    await earn(scope, member.id, 10, "e", datetime.now(UTC) - timedelta(days=90))

    await tessera_db.queue.enqueue("expire_points", brand_a.id)

    assert (await account(scope)).balance == 0
    assert await jobs.expire_points({}, 999_999) == 0


async def test_the_hourly_tick_enqueues_each_brands_sweeps_once_per_hour(
    brand_a, brand_b, make_member, tessera_db
):
    from tessera.assets import jobs

    long_ago = datetime.now(UTC) - timedelta(days=90)
    for brand in (brand_a, brand_b):
        scope = BrandScope(brand)
        await set_policy(scope, expiry_mode="rolling_months", expiry_months=1)
        member = await make_member(brand)
        await earn(scope, member.id, 10, "e", long_ago)

    await jobs.points_tick({"runtime": tessera_db})
    for brand in (brand_a, brand_b):
        assert (await account(BrandScope(brand))).balance == 0

    # Points earned after this hour's sweep wait for the next hour's tick.
    member = await make_member(brand_a)
    await earn(BrandScope(brand_a), member.id, 5, "late", long_ago)
    await jobs.points_tick({"runtime": tessera_db})
    late = await BrandScope(brand_a).query(AssetAccount).get(member_id=member.id)
    assert late.balance == 5


async def test_a_caller_key_in_the_reserved_namespace_is_refused_and_cannot_block_expiry(
    brand_a, make_member, ledger_consistent
):
    scope = BrandScope(brand_a)
    await set_policy(scope, expiry_mode="rolling_months", expiry_months=1)
    member = await make_member(brand_a)
    await earn(scope, member.id, 100, "old", now=local(2026, 1, 10, 12))
    lot = await scope.query(PointsLot).get()

    # The key the expiry sweep will write for this lot: taken by a caller, it
    # would make the sweep's insert fail on the unique key, every run.
    with pytest.raises(DomainError) as refused:
        await earn(scope, member.id, 1, f"tessera:expire:{lot.id}", now=local(2026, 1, 11))
    assert (refused.value.code, refused.value.field) == ("INVALID", ["idempotencyKey"])

    assert await expiry.expire_due_lots(scope, now=local(2026, 3, 1)) == 100
    assert (await account(scope)).balance == 0
    await ledger_consistent(brand_a)
