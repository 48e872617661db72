"""Points as cash against an order (redeemPointsForOrder): the order's share
holds over all its redemptions (also concurrent ones), a refund gives the
points used as cash back in proportion, and a retry replays the first result
whatever changed since."""

from __future__ import annotations

import asyncio

import pytest
from loyalty_programme import T0, enable, money, order

from tessera.assets.models import LedgerEntry
from tessera.assets.service import adjust_points, balances
from tessera.errors import DomainError
from tessera.members.service import create_member
from tessera.orders.inputs import RefundInput
from tessera.orders.refunds import record_refund
from tessera.pipeline.orders import record_order
from tessera.rewards.redemption import redeem_for_order
from tessera.schema.ids import encode_id
from tessera.scope import BrandScope

START = 100_000
TERMS = {"points_per_unit": 100, "max_share_percent": 30, "min_points": 100}


@pytest.fixture
async def shop(brand_a):
    """A member with 100,000 points and a recorded order of 80.00: 30 % of it
    is 24.00, so the order takes at most 2,400 points."""
    await enable(brand_a, "points.redemption", TERMS)
    scope = BrandScope(brand_a)
    member = await create_member(scope, {"name": "cash"}, identities=[("app_user_id", "cash")])
    await adjust_points(scope, member.id, START, idempotency_key="start", reason="test funds")
    recorded = await record_order(
        scope, order("o-80", member.id, T0, [("A", 1, "80.00", None)]), now=T0
    )
    return scope, member, recorded.order


async def _redeem(scope, member, points, key, **where):
    try:
        return await redeem_for_order(
            scope, member_id=member.id, points=points, idempotency_key=key, **where
        )
    except DomainError as error:
        return error


async def points_of(scope, member) -> int:
    return (await balances(scope, [member.id]))[member.id].points


async def test_ten_redemptions_of_one_order_take_its_share_once(shop):
    scope, member, recorded = shop

    outcomes = [
        await _redeem(scope, member, 2400, f"k-{i}", order_id=recorded.id) for i in range(10)
    ]

    assert outcomes[0].discount == 2400
    assert {(o.code, tuple(o.field)) for o in outcomes[1:]} == {
        ("EXCEEDS_ORDER_SHARE", ("points",))
    }
    assert await points_of(scope, member) == START - 2400


async def test_concurrent_redemptions_of_one_order_never_pass_its_share(shop):
    scope, member, recorded = shop

    big = await asyncio.gather(
        *(_redeem(scope, member, 2400, f"big-{i}", order_id=recorded.id) for i in range(10))
    )
    assert sum(not isinstance(o, DomainError) for o in big) == 1
    assert await points_of(scope, member) == START - 2400


async def test_concurrent_small_redemptions_fill_the_share_exactly(shop):
    scope, member, recorded = shop

    small = await asyncio.gather(
        *(_redeem(scope, member, 800, f"s-{i}", order_id=recorded.id) for i in range(12))
    )

    assert sum(not isinstance(o, DomainError) for o in small) == 3
    assert {o.code for o in small if isinstance(o, DomainError)} == {"EXCEEDS_ORDER_SHARE"}
    assert await points_of(scope, member) == START - 2400


async def test_an_order_at_checkout_is_capped_over_its_calls_and_when_recorded(shop):
    scope, member, _recorded = shop
    cart = {"order_external_id": "cart-9", "order_amount": money("80.00")}

    first = await _redeem(scope, member, 1600, "c-1", **cart)
    second = await _redeem(scope, member, 1600, "c-2", **cart)
    third = await _redeem(scope, member, 800, "c-3", **cart)
    # Recorded later under the same external id, it still has only 2,400 in all.
    placed = await record_order(
        scope, order("cart-9", member.id, T0, [("A", 1, "80.00", None)]), now=T0
    )
    fourth = await _redeem(scope, member, 100, "c-4", order_id=placed.order.id)

    assert first.discount == 1600 and third.discount == 800
    assert (second.code, fourth.code) == ("EXCEEDS_ORDER_SHARE", "EXCEEDS_ORDER_SHARE")
    assert await points_of(scope, member) == START - 2400


async def test_a_refund_gives_back_points_used_as_cash_in_proportion(shop):
    scope, member, recorded = shop
    await _redeem(scope, member, 2400, "k-1", order_id=recorded.id)

    # A quarter of the order back: a quarter of the points (600).
    await record_refund(scope, RefundInput("rf-1", T0, order_id=recorded.id, amount=money("20")))
    assert await points_of(scope, member) == START - 1800
    # What is left of the order (60.00) is already paid 18.00 with points: its cap.
    refused = await _redeem(scope, member, 100, "k-2", order_id=recorded.id)
    assert refused.code == "EXCEEDS_ORDER_SHARE"
    # The rest of the order back: every point used on it.
    await record_refund(scope, RefundInput("rf-2", T0, order_id=recorded.id))
    assert await points_of(scope, member) == START
    returned = await scope.query(LedgerEntry).filter(entry_type="refund").order_by("id")
    assert [e.amount for e in returned] == [600, 1800]
    assert {(e.source_type, e.source_ref) for e in returned} == {
        ("order_redemption", str(recorded.id))
    }


async def test_a_retry_after_a_partial_refund_or_new_terms_replays_the_first_result(
    shop, api_key, gql
):
    scope, member, recorded = shop
    writer = await api_key(scope.brand, "write")
    mutation = """mutation($i: RedeemPointsForOrderInput!) { redeemPointsForOrder(input: $i) {
      discount { amount } balance replayed errors { field code } } }"""
    request = {
        "i": {
            "memberId": encode_id("Member", member.id),
            "idempotencyKey": "pay-1",
            "points": 2400,
            "orderId": encode_id("Order", recorded.id),
        }
    }
    first = (await gql(mutation, request, token=writer))["redeemPointsForOrder"]
    await record_refund(scope, RefundInput("rf-1", T0, order_id=recorded.id, amount=money("40")))
    after_refund = (await gql(mutation, request, token=writer))["redeemPointsForOrder"]
    await enable(scope.brand, "points.redemption", {**TERMS, "max_share_percent": 5})
    after_terms = (await gql(mutation, request, token=writer))["redeemPointsForOrder"]

    assert first == {
        "discount": {"amount": "24.00"},
        "balance": START - 2400,
        "replayed": False,
        "errors": [],
    }
    assert after_refund == after_terms == {**first, "replayed": True}


async def test_concurrent_retries_of_one_key_all_get_the_first_result(shop):
    scope, member, recorded = shop

    outcomes = await asyncio.gather(
        *(_redeem(scope, member, 2400, "same", order_id=recorded.id) for _ in range(10))
    )

    assert [o for o in outcomes if isinstance(o, DomainError)] == []
    assert sorted(o.ledger.replayed for o in outcomes) == [False] + [True] * 9
    assert {o.discount for o in outcomes} == {2400}
    assert await points_of(scope, member) == START - 2400
