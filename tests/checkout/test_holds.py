"""Holds through the service layer, on whichever database the suite runs on:
racing checkouts never hold the same coupon or more points than there are,
a replayed key reserves once, an expired hold is refused and swept back,
and lapsing points spare what a hold keeps."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tessera.assets import expiry
from tessera.assets.models import AssetAccount, LedgerEntry
from tessera.assets.policy import set_policy
from tessera.assets.service import LedgerResult, earn_points, redeem_points
from tessera.checkout import holds
from tessera.checkout.jobs import expire_holds, holds_tick
from tessera.checkout.models import RewardHold
from tessera.coupons.models import Coupon
from tessera.errors import DomainError
from tessera.orders.inputs import LineInput, MemberRef, OrderInput
from tessera.orders.models import Order
from tessera.orders.money import MoneyAmount
from tessera.pipeline.orders import OrderResult, record_order

CALLERS = 10


def request(
    member, key: str, points: int = 0, codes: tuple[str, ...] = (), **kw
) -> holds.HoldRequest:
    return holds.HoldRequest(
        member_id=member.id,
        order_amount=kw.pop("order_amount", 100_000),
        idempotency_key=key,
        points=points,
        coupon_codes=codes,
        **kw,
    )


def order(member, external_id: str, hold_id: int | None = None) -> OrderInput:
    price = MoneyAmount(Decimal("200.00"), "CNY")
    return OrderInput(
        external_id=external_id,
        member=MemberRef(member_id=member.id),
        occurred_at=datetime.now(UTC),
        amount_paid=price,
        lines=[LineInput(sku="TEA", quantity=1, unit_price=price)],
        hold_id=hold_id,
    )


async def outcome(coro):
    try:
        return await coro
    except DomainError as error:
        return error


async def account(shop, member) -> AssetAccount:
    return await shop.scope.query(AssetAccount).get(member_id=member.id, kind="points")


async def test_racing_checkouts_hold_a_coupon_once(shop):
    member = await shop.member(points=0)
    coupon = await shop.coupon(member)
    results = await asyncio.gather(
        *(
            outcome(holds.hold_rewards(shop.scope, request(member, f"h-{i}", codes=(coupon.code,))))
            for i in range(CALLERS)
        )
    )
    won = [r for r in results if isinstance(r, holds.HoldResult)]
    lost = [r for r in results if isinstance(r, DomainError)]
    assert len(won) == 1
    assert {e.code for e in lost} <= {"COUPON_HELD", "CONFLICT"}
    assert {tuple(e.field or []) for e in lost} == {("couponCodes", "0")}
    assert (await shop.scope.query(Coupon).get(id=coupon.id)).status == "held"
    assert await shop.scope.query(RewardHold).count() == 1


async def test_racing_checkouts_never_hold_more_points_than_there_are(shop, ledger_consistent):
    member = await shop.member(points=1000)
    results = await asyncio.gather(
        *(
            outcome(holds.hold_rewards(shop.scope, request(member, f"h-{i}", points=300)))
            for i in range(CALLERS)
        )
    )
    won = [r for r in results if isinstance(r, holds.HoldResult)]
    assert len(won) == 3
    assert {r.code for r in results if isinstance(r, DomainError)} == {"INSUFFICIENT_POINTS"}
    state = await account(shop, member)
    assert (state.balance, state.reserved) == (1000, 900)
    await ledger_consistent(shop.brand)


async def test_holds_and_redemptions_racing_share_the_balance(shop, ledger_consistent):
    member = await shop.member(points=1000)
    calls = [
        outcome(holds.hold_rewards(shop.scope, request(member, f"h-{i}", points=200)))
        for i in range(5)
    ] + [
        outcome(
            redeem_points(
                shop.scope, member.id, 200, idempotency_key=f"r-{i}", reason="r", source_type="t"
            )
        )
        for i in range(5)
    ]
    results = await asyncio.gather(*calls)
    held = sum(r.hold.points for r in results if isinstance(r, holds.HoldResult))
    spent = sum(200 for r in results if isinstance(r, LedgerResult))
    assert held + spent == 1000
    state = await account(shop, member)
    assert (state.balance, state.reserved) == (1000 - spent, held)
    await ledger_consistent(shop.brand)


async def test_a_key_sent_concurrently_reserves_once(shop):
    member = await shop.member(points=1000)
    results = await asyncio.gather(
        *(holds.hold_rewards(shop.scope, request(member, "same", points=300)) for _ in range(5))
    )
    assert len({r.hold.id for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    assert (await account(shop, member)).reserved == 300


async def test_two_orders_racing_for_one_hold_spend_it_once(shop, ledger_consistent):
    member = await shop.member(points=1000)
    hold = (await holds.hold_rewards(shop.scope, request(member, "h", points=200))).hold
    results = await asyncio.gather(
        *(outcome(record_order(shop.scope, order(member, f"o-{i}", hold.id))) for i in range(4))
    )
    recorded = [r for r in results if isinstance(r, OrderResult)]
    assert len(recorded) == 1
    assert {(r.code, tuple(r.field or [])) for r in results if isinstance(r, DomainError)} == {
        ("HOLD_CONFIRMED", ("holdId",))
    }
    assert await shop.scope.query(Order).count() == 1
    spent = await shop.scope.query(LedgerEntry).filter(entry_type="redeem").count()
    assert spent == 1
    state = await account(shop, member)
    assert (state.balance, state.reserved) == (800 + 200, 0)  # 200 earned by the order
    await ledger_consistent(shop.brand)


async def test_an_expired_hold_is_refused_then_swept_back(shop, ledger_consistent):
    member = await shop.member(points=1000)
    past = datetime.now(UTC) - timedelta(minutes=20)
    coupon = await shop.coupon(member, now=past)
    hold = (
        await holds.hold_rewards(
            shop.scope, request(member, "h", points=300, codes=(coupon.code,)), now=past
        )
    ).hold
    try:
        await record_order(shop.scope, order(member, "late", hold.id))
    except DomainError as error:
        assert (error.code, error.field) == ("HOLD_EXPIRED", ["holdId"])
    else:
        raise AssertionError("an expired hold was confirmed")
    assert not await shop.scope.query(Order).exists()
    assert (await account(shop, member)).reserved == 300

    assert await expire_holds({}, shop.brand.id) == 1
    assert await holds.expire_due_holds(shop.scope) == 0  # once
    stored = await shop.scope.query(RewardHold).get(id=hold.id)
    assert stored.status == "expired"
    assert (await account(shop, member)).reserved == 0
    assert (await shop.scope.query(Coupon).get(id=coupon.id)).status == "available"
    await ledger_consistent(shop.brand)


async def test_the_tick_enqueues_a_sweep_only_for_brands_with_holds_due(shop, brand_b, tessera_db):
    member = await shop.member(points=1000)
    past = datetime.now(UTC) - timedelta(minutes=20)
    await holds.hold_rewards(shop.scope, request(member, "h", points=100), now=past)

    class Queue:
        def __init__(self) -> None:
            self.jobs: list[tuple[str, tuple]] = []

        async def enqueue(self, name: str, *args, job_id: str) -> None:
            self.jobs.append((name, args))

    class Runtime:
        queue = Queue()

    await holds_tick({"runtime": Runtime})
    assert Runtime.queue.jobs == [("expire_holds", (shop.brand.id,))]


async def test_lapsing_points_spare_what_a_hold_keeps(shop, ledger_consistent):
    await set_policy(shop.scope, expiry_mode="rolling_months", expiry_months=1)
    member = await shop.member(points=0)
    now = datetime.now(UTC)
    await earn_points(
        shop.scope,
        member.id,
        500,
        idempotency_key="old",
        reason="old",
        source_type="test",
        now=now - timedelta(days=70),
    )
    hold = (await holds.hold_rewards(shop.scope, request(member, "h", points=300), now=now)).hold

    assert await expiry.expire_due_lots(shop.scope, now) == 200
    state = await account(shop, member)
    assert (state.balance, state.reserved) == (300, 300)
    await ledger_consistent(shop.brand)
    assert await expiry.expire_due_lots(shop.scope, now) == 0

    await holds.release_hold(shop.scope, hold.id, idempotency_key_="let-go")
    assert await expiry.expire_due_lots(shop.scope, now) == 300
    assert (await account(shop, member)).balance == 0
    await ledger_consistent(shop.brand)


async def test_a_confirmed_hold_spends_points_whose_lot_lapsed_meanwhile(shop, ledger_consistent):
    await set_policy(shop.scope, expiry_mode="rolling_months", expiry_months=1)
    member = await shop.member(points=0)
    now = datetime.now(UTC)
    await earn_points(
        shop.scope,
        member.id,
        500,
        idempotency_key="old",
        reason="old",
        source_type="test",
        now=now - timedelta(days=70),
    )
    hold = (await holds.hold_rewards(shop.scope, request(member, "h", points=300), now=now)).hold
    await expiry.expire_due_lots(shop.scope, now)

    await record_order(shop.scope, order(member, "o", hold.id))
    assert await expiry.expire_due_lots(shop.scope, datetime.now(UTC)) == 0
    state = await account(shop, member)
    assert (state.balance, state.reserved) == (200, 0)  # the order's 200 points
    await ledger_consistent(shop.brand)


async def test_ledger_verify_checks_the_reserved_counter_against_open_holds(
    shop, ledger_consistent
):
    from tessera.assets.verify import verify_brand

    member = await shop.member(points=1000)
    await holds.hold_rewards(shop.scope, request(member, "h", points=300))
    await ledger_consistent(shop.brand)
    await (
        shop.scope.query(AssetAccount).filter(member_id=member.id, kind="points").update(reserved=0)
    )
    problems = [str(p) async for p in verify_brand(shop.scope)]
    assert len(problems) == 1 and "reserved (sum of open holds) is 0, expected 300" in problems[0]


async def test_a_batch_refuses_only_the_order_with_a_bad_code(shop):
    from dataclasses import replace

    from tessera.pipeline.orders import record_orders

    member = await shop.member(points=0)
    coupon = await shop.coupon(member)
    results = await record_orders(
        shop.scope,
        [
            replace(order(member, "b-0"), coupon_codes=[coupon.code]),
            replace(order(member, "b-1"), coupon_codes=["NOSUCHCODE"]),
            order(member, "b-2"),
        ],
    )
    assert isinstance(results[0], OrderResult) and isinstance(results[2], OrderResult)
    assert isinstance(results[1], DomainError)
    assert (results[1].code, results[1].field) == ("NOT_FOUND", ["orders", "1", "couponCodes", "0"])
    assert sorted(await shop.scope.query(Order).values_list("external_id", flat=True)) == [
        "b-0",
        "b-2",
    ]
    assert (await shop.scope.query(Coupon).get(id=coupon.id)).status == "redeemed"


async def test_a_held_coupon_cannot_be_voided(shop):
    from tessera.coupons.service import void_coupon

    member = await shop.member(points=0)
    coupon = await shop.coupon(member)
    await holds.hold_rewards(shop.scope, request(member, "h", codes=(coupon.code,)))
    try:
        await void_coupon(shop.scope, code=coupon.code, reason="oops")
    except DomainError as error:
        assert (error.code, error.field) == ("COUPON_HELD", ["code"])
    else:
        raise AssertionError("a held coupon was voided")
    assert (await shop.scope.query(Coupon).get(id=coupon.id)).status == "held"


async def test_points_for_an_order_respect_what_holds_keep(shop):
    from tessera.rewards.redemption import redeem_for_order

    member = await shop.member(points=1000)
    await holds.hold_rewards(shop.scope, request(member, "h", points=900))
    try:
        await redeem_for_order(
            shop.scope,
            member_id=member.id,
            points=200,
            idempotency_key="till",
            order_external_id="pos-1",
            order_amount=MoneyAmount(Decimal("100.00"), "CNY"),
        )
    except DomainError as error:
        assert (error.code, error.field) == ("INSUFFICIENT_POINTS", ["points"])
    else:
        raise AssertionError("points held for a checkout were spent on another order")
    state = await account(shop, member)
    assert (state.balance, state.reserved) == (1000, 900)
