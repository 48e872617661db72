"""Earning, redeeming and adjusting points through the service layer: lots
consumed soonest-expiring first, idempotency, bad input, events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tessera.assets import service
from tessera.assets.models import AssetAccount, LedgerEntry, PointsLot
from tessera.assets.policy import set_policy
from tessera.errors import DomainError
from tessera.scope import Actor, BrandScope

T0 = datetime(2026, 3, 15, 4, 0, tzinfo=UTC)


async def earn(scope, member_id, amount, key, now=T0, **kw):
    kw.setdefault("reason", "test")
    kw.setdefault("source_type", "test")
    return await service.earn_points(scope, member_id, amount, idempotency_key=key, now=now, **kw)


async def redeem(scope, member_id, amount, key, now=T0, **kw):
    kw.setdefault("reason", "test")
    kw.setdefault("source_type", "test")
    return await service.redeem_points(scope, member_id, amount, idempotency_key=key, now=now, **kw)


async def refused(coro, code: str, field: list[str]) -> DomainError:
    with pytest.raises(DomainError) as caught:
        await coro
    assert (caught.value.code, caught.value.field) == (code, field)
    return caught.value


async def entries(scope) -> list[LedgerEntry]:
    return list(await scope.query(LedgerEntry).order_by("id"))


async def test_earn_then_redeem_moves_the_balance_and_writes_entries(
    brand_a, make_member, ledger_consistent
):
    scope = BrandScope(brand_a, Actor("api_key", "7"))
    member = await make_member(brand_a)

    earned = await earn(scope, member.id, 100, "e1", source_ref="order-1")
    redeemed = await redeem(scope, member.id, 30, "r1")

    assert (earned.balance, earned.replayed, redeemed.balance) == (100, False, 70)
    rows = await entries(scope)
    assert [(e.entry_type, e.amount, e.balance_after) for e in rows] == [
        ("earn", 100, 100),
        ("redeem", -30, 70),
    ]
    assert rows[0].source_ref == "order-1" and rows[0].actor == "api_key:7"
    assert (await service.balances(scope, [member.id]))[member.id].points == 70
    await ledger_consistent(brand_a)


async def test_redeeming_takes_the_soonest_expiring_lots_first_and_never_expiring_last(
    brand_a, make_member, ledger_consistent
):
    scope = BrandScope(brand_a)
    member = await make_member(brand_a)
    await earn(scope, member.id, 50, "never")  # policy NEVER: no expiry
    await set_policy(scope, expiry_mode="rolling_months", expiry_months=12)
    await earn(scope, member.id, 40, "later", now=T0 + timedelta(days=30))
    await earn(scope, member.id, 30, "sooner", now=T0)

    await redeem(scope, member.id, 60, "r", now=T0 + timedelta(days=31))

    lots = {lot.entry_id: lot.remaining for lot in await scope.query(PointsLot).order_by("id")}
    by_key = {e.idempotency_key: e.id for e in await entries(scope)}
    assert lots[by_key["sooner"]] == 0
    assert lots[by_key["later"]] == 10
    assert lots[by_key["never"]] == 50
    await ledger_consistent(brand_a)


async def test_redeeming_more_than_the_balance_is_refused_and_changes_nothing(brand_a, make_member):
    scope = BrandScope(brand_a)
    member = await make_member(brand_a)
    await earn(scope, member.id, 20, "e")

    error = await refused(redeem(scope, member.id, 21, "r"), "INSUFFICIENT_POINTS", ["points"])

    assert "20" in error.message
    assert len(await entries(scope)) == 1
    assert (await scope.query(AssetAccount).get()).balance == 20
    assert (await scope.query(PointsLot).get()).remaining == 20


async def test_redeeming_from_a_member_without_an_account_is_insufficient(brand_a, make_member):
    member = await make_member(brand_a)
    await refused(redeem(BrandScope(brand_a), member.id, 1, "r"), "INSUFFICIENT_POINTS", ["points"])


@pytest.mark.parametrize(
    ("amount", "code"),
    [(0, "INVALID_AMOUNT"), (-5, "INVALID_AMOUNT"), (10**13, "AMOUNT_TOO_LARGE")],
)
async def test_a_zero_negative_or_huge_amount_is_refused(brand_a, make_member, amount, code):
    scope = BrandScope(brand_a)
    member = await make_member(brand_a)
    await refused(earn(scope, member.id, amount, "e"), code, ["points"])
    await refused(redeem(scope, member.id, amount, "r"), code, ["points"])
    assert await entries(scope) == []


async def test_an_unknown_member_is_refused(brand_a):
    scope = BrandScope(brand_a)
    await refused(earn(scope, 999_999, 5, "e"), "NOT_FOUND", ["memberId"])
    await refused(redeem(scope, 999_999, 5, "r"), "NOT_FOUND", ["memberId"])
    assert await scope.query(AssetAccount).count() == 0


async def test_another_brands_member_is_unknown(brand_a, brand_b, make_member):
    theirs = await make_member(brand_b)
    await refused(earn(BrandScope(brand_a), theirs.id, 5, "e"), "NOT_FOUND", ["memberId"])
    assert await BrandScope(brand_a).query(AssetAccount).count() == 0
    assert await BrandScope(brand_b).query(AssetAccount).count() == 0


async def test_replaying_a_key_returns_the_first_result_and_changes_nothing(brand_a, make_member):
    scope = BrandScope(brand_a)
    member = await make_member(brand_a)
    first = await earn(scope, member.id, 10, "same")
    await earn(scope, member.id, 5, "other")

    again = await earn(scope, member.id, 10, "same")

    assert again.replayed and again.balance == first.balance == 10
    assert again.entry.id == first.entry.id
    assert (await scope.query(AssetAccount).get()).balance == 15


async def test_a_key_reused_with_another_payload_is_refused_and_the_original_kept(
    brand_a, make_member
):
    scope = BrandScope(brand_a)
    member = await make_member(brand_a)
    await earn(scope, member.id, 10, "k")

    await refused(earn(scope, member.id, 11, "k"), "IDEMPOTENCY_CONFLICT", ["idempotencyKey"])
    await refused(redeem(scope, member.id, 10, "k"), "IDEMPOTENCY_CONFLICT", ["idempotencyKey"])

    [entry] = await entries(scope)
    assert entry.amount == 10
    assert (await scope.query(AssetAccount).get()).balance == 10


async def test_keys_are_per_brand(brand_a, brand_b, make_member):
    a, b = await make_member(brand_a), await make_member(brand_b)
    await earn(BrandScope(brand_a), a.id, 10, "k")
    result = await earn(BrandScope(brand_b), b.id, 99, "k")
    assert not result.replayed and result.balance == 99


async def test_adjust_needs_a_reason_and_can_go_down_but_not_below_zero(
    brand_a, make_member, ledger_consistent
):
    scope = BrandScope(brand_a, Actor("admin_user", "3"))
    member = await make_member(brand_a)

    await refused(
        service.adjust_points(scope, member.id, 5, idempotency_key="a0", reason=" "),
        "REQUIRED",
        ["reason"],
    )
    up = await service.adjust_points(scope, member.id, 50, idempotency_key="a1", reason="goodwill")
    down = await service.adjust_points(scope, member.id, -20, idempotency_key="a2", reason="fix")
    await refused(
        service.adjust_points(scope, member.id, -31, idempotency_key="a3", reason="fix"),
        "INSUFFICIENT_POINTS",
        ["points"],
    )
    await refused(
        service.adjust_points(scope, member.id, 0, idempotency_key="a4", reason="fix"),
        "INVALID_AMOUNT",
        ["points"],
    )

    assert (up.balance, down.balance) == (50, 30)
    assert [(e.entry_type, e.amount, e.actor) for e in await entries(scope)] == [
        ("adjust", 50, "admin_user:3"),
        ("adjust", -20, "admin_user:3"),
    ]
    await ledger_consistent(brand_a)


async def test_stored_value_tops_up_and_spends_without_overdrawing(brand_a, make_member):
    scope = BrandScope(brand_a)
    member = await make_member(brand_a)

    await service.top_up_stored_value(scope, member.id, 10_000, idempotency_key="t")
    spent = await service.spend_stored_value(scope, member.id, 2_550, idempotency_key="s")
    await refused(
        service.spend_stored_value(scope, member.id, 7_451, idempotency_key="s2"),
        "INSUFFICIENT_BALANCE",
        ["amount"],
    )

    assert spent.balance == 7_450
    assert (await service.balances(scope, [member.id]))[member.id].stored_value == 7_450


async def test_growth_is_earned_and_reversed_never_below_zero(brand_a, make_member):
    scope = BrandScope(brand_a)
    member = await make_member(brand_a)
    await service.earn_growth(
        scope,
        member.id,
        80,
        idempotency_key="g",
        reason="order",
        source_type="order",
        source_ref="o-1",
    )
    await service.earn_growth(
        scope,
        member.id,
        10,
        idempotency_key="g2",
        reason="order",
        source_type="order",
        source_ref="o-2",
    )

    result = await service.reverse_growth(
        scope, source_type="order", source_ref="o-1", amount=50, idempotency_key="rg"
    )
    await refused(
        service.reverse_growth(
            scope, source_type="order", source_ref="o-1", amount=31, idempotency_key="rg2"
        ),
        "EXCEEDS_EARNED",
        ["amount"],
    )

    assert result.balance == 40


async def test_balances_of_many_members_take_one_round_trip(
    brand_a, make_member, assert_round_trips
):
    scope = BrandScope(brand_a)
    members = [await make_member(brand_a) for _ in range(3)]
    await earn(scope, members[0].id, 7, "e")
    await service.top_up_stored_value(scope, members[1].id, 500, idempotency_key="t")

    async with assert_round_trips(1):
        found = await service.balances(scope, [m.id for m in members])

    assert found[members[0].id] == service.Balances(points=7)
    assert found[members[1].id] == service.Balances(stored_value=500)
    assert found[members[2].id] == service.Balances()


async def test_points_changed_is_delivered_after_commit_with_the_movement(
    brand_a, make_member, events
):
    scope = BrandScope(brand_a)
    member = await make_member(brand_a)
    await earn(scope, member.id, 40, "e", source_ref="o-9")
    await redeem(scope, member.id, 15, "r")
    await refused(redeem(scope, member.id, 500, "r2"), "INSUFFICIENT_POINTS", ["points"])
    await earn(scope, member.id, 40, "e", source_ref="o-9")  # a replay emits nothing

    changes = events.named("points.changed")
    assert [
        (e.payload["entry_type"], e.payload["delta"], e.payload["balance"]) for e in changes
    ] == [
        ("earn", 40, 40),
        ("redeem", -15, 25),
    ]
    assert changes[0].payload["member_id"] == member.id
    assert changes[0].payload["source_ref"] == "o-9"


async def test_joining_the_callers_unit_of_work_commits_and_rolls_back_with_it(
    brand_a, make_member
):
    from tessera.uow import unit_of_work

    scope = BrandScope(brand_a)
    member = await make_member(brand_a)
    with pytest.raises(RuntimeError):
        async with unit_of_work(scope) as uow:
            await earn(scope, member.id, 10, "inside", uow=uow)
            raise RuntimeError("the order failed after the points were written")
    assert await entries(scope) == []

    async with unit_of_work(scope) as uow:
        result = await earn(scope, member.id, 10, "inside", uow=uow)
        again = await earn(scope, member.id, 10, "inside", uow=uow)
    assert (result.replayed, again.replayed, again.balance) == (False, True, 10)
    assert len(await entries(scope)) == 1
