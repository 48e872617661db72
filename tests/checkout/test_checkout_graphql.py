"""Checkout in one flow over GraphQL: hold points and coupons, record the
order with the hold, and read in the payload what the order did; release,
refusals of bad coupon codes with nothing changed, the preview."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tessera.assets.models import AssetAccount, LedgerEntry
from tessera.checkout.models import RewardHold
from tessera.coupons.models import Coupon, CouponRedemption
from tessera.coupons.redemption import redeem_coupon
from tessera.orders.models import MemberStats, Order
from tessera.orders.money import MoneyAmount
from tessera.schema.ids import encode_id
from tessera.testing import record_database

HOLD = """
mutation($input: HoldRewardsInput!) {
  holdRewards(input: $input) {
    hold { id status points discount { amount } expiresAt
           coupons { coupon { code status } discount { amount } } }
    replayed
    errors { field code message }
  }
}
"""
RELEASE = """
mutation($input: ReleaseHoldInput!) {
  releaseHold(input: $input) {
    hold { id status points }
    replayed
    errors { field code }
  }
}
"""
RECORD = """
mutation($input: RecordOrderInput!) {
  recordOrder(input: $input) {
    order { id couponCodes member { id } }
    outcome {
      awards { rule points pending reason }
      points growth pointsRedeemed
      couponsUsed { coupon { code status } discount { amount } }
      couponsIssued { code }
      tierChange { reason }
    }
    errors { field code message }
  }
}
"""
ASSETS = """
query($id: ID!) {
  member(id: $id) {
    assets { points reservedPoints availablePoints }
    coupons { edges { node { code status } } }
  }
}
"""
REDEEM_POINTS = """
mutation($input: PointsInput!) {
  redeemPoints(input: $input) { balance errors { field code message } }
}
"""


def mid(member) -> str:
    return encode_id("Member", member.id)


def hold_input(member, key: str = "hold-1", **over: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "memberId": mid(member),
        "orderAmount": {"amount": "200.00", "currency": "CNY"},
        "idempotencyKey": key,
        "points": 500,
    }
    values.update(over)
    return values


def order_input(member, external_id: str = "web-1", **over: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "externalId": external_id,
        "memberId": mid(member),
        "occurredAt": datetime.now(UTC).isoformat(),
        "amountPaid": {"amount": "175.00", "currency": "CNY"},
        "lines": [
            {
                "sku": "TEA-1",
                "quantity": 2,
                "category": "tea",
                "unitPrice": {"amount": "100.00", "currency": "CNY"},
            }
        ],
    }
    values.update(over)
    return values


async def points_account(shop, member) -> AssetAccount:
    return await shop.scope.query(AssetAccount).get(member_id=member.id, kind="points")


async def test_hold_then_record_order_spends_the_hold_and_reports_what_it_did(
    shop, api_key, gql, ledger_consistent
):
    token = await api_key(shop.brand, "read", "write")
    member = await shop.member(points=1000)
    coupon = await shop.coupon(member)

    held = (await gql(HOLD, {"input": hold_input(member, couponCodes=[coupon.code])}, token=token))[
        "holdRewards"
    ]
    assert held["errors"] == [] and held["replayed"] is False
    hold = held["hold"]
    assert (hold["status"], hold["points"]) == ("HELD", 500)
    # 500 points at 100 a yuan, and the 20-yuan coupon
    assert hold["discount"]["amount"] == "25.00"
    assert hold["coupons"] == [
        {"coupon": {"code": coupon.code, "status": "HELD"}, "discount": {"amount": "20.00"}}
    ]
    seen = (await gql(ASSETS, {"id": mid(member)}, token=token))["member"]
    assert seen["assets"] == {"points": 1000, "reservedPoints": 500, "availablePoints": 500}
    assert seen["coupons"]["edges"] == [{"node": {"code": coupon.code, "status": "HELD"}}]

    recorded = (await gql(RECORD, {"input": order_input(member, holdId=hold["id"])}, token=token))[
        "recordOrder"
    ]
    assert recorded["errors"] == []
    assert recorded["order"]["member"] == {"id": mid(member)}
    outcome = recorded["outcome"]
    assert outcome["pointsRedeemed"] == 500
    assert outcome["couponsUsed"] == [
        {"coupon": {"code": coupon.code, "status": "REDEEMED"}, "discount": {"amount": "20.00"}}
    ]
    assert [(a["rule"], a["points"], a["pending"]) for a in outcome["awards"]] == [
        ("points.purchase", 175, False)
    ]
    assert outcome["points"] == 175
    assert (outcome["couponsIssued"], outcome["tierChange"]) == ([], None)

    seen = (await gql(ASSETS, {"id": mid(member)}, token=token))["member"]
    assert seen["assets"] == {"points": 675, "reservedPoints": 0, "availablePoints": 675}
    assert seen["coupons"]["edges"] == [{"node": {"code": coupon.code, "status": "REDEEMED"}}]
    order = await shop.scope.query(Order).get(external_id="web-1")
    spent = await shop.scope.query(LedgerEntry).get(entry_type="redeem", member_id=member.id)
    assert (spent.amount, spent.source_type, spent.source_ref) == (
        -500,
        "order_redemption",
        str(order.id),
    )
    stored = await shop.scope.query(RewardHold).get()
    assert (stored.status, stored.order_id) == ("confirmed", order.id)
    used = await shop.scope.query(CouponRedemption).get(coupon_id=coupon.id)
    assert (used.order_id, used.discount) == (order.id, 2000)
    await ledger_consistent(shop.brand)

    # The order is what Order shows too, and the hold cannot be used twice.
    again = (
        await gql(RECORD, {"input": order_input(member, "web-2", holdId=hold["id"])}, token=token)
    )["recordOrder"]
    assert again["errors"] == [
        {
            "field": ["input", "holdId"],
            "code": "HOLD_CONFIRMED",
            "message": again["errors"][0]["message"],
        }
    ]
    assert not await shop.scope.query(Order).filter(external_id="web-2").exists()


async def test_release_gives_everything_back_and_replays(shop, api_key, gql, ledger_consistent):
    token = await api_key(shop.brand, "write", "read")
    member = await shop.member(points=1000)
    coupon = await shop.coupon(member)
    hold = (await gql(HOLD, {"input": hold_input(member, couponCodes=[coupon.code])}, token=token))[
        "holdRewards"
    ]["hold"]

    release = {"holdId": hold["id"], "idempotencyKey": "release-1"}
    first = (await gql(RELEASE, {"input": release}, token=token))["releaseHold"]
    assert first == {
        "hold": {"id": hold["id"], "status": "RELEASED", "points": 500},
        "replayed": False,
        "errors": [],
    }
    replay = (await gql(RELEASE, {"input": release}, token=token))["releaseHold"]
    assert replay["replayed"] is True and replay["hold"]["status"] == "RELEASED"
    other = (
        await gql(RELEASE, {"input": {**release, "idempotencyKey": "release-2"}}, token=token)
    )["releaseHold"]
    assert other["errors"] == [{"field": ["input", "holdId"], "code": "HOLD_RELEASED"}]

    seen = (await gql(ASSETS, {"id": mid(member)}, token=token))["member"]
    assert seen["assets"] == {"points": 1000, "reservedPoints": 0, "availablePoints": 1000}
    assert seen["coupons"]["edges"] == [{"node": {"code": coupon.code, "status": "AVAILABLE"}}]
    refused = (await gql(RECORD, {"input": order_input(member, holdId=hold["id"])}, token=token))[
        "recordOrder"
    ]
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [
        (["input", "holdId"], "HOLD_RELEASED")
    ]
    assert not await shop.scope.query(Order).exists()
    await ledger_consistent(shop.brand)


async def test_hold_replay_returns_the_first_hold_and_reserves_once(shop, api_key, gql):
    token = await api_key(shop.brand, "write")
    member = await shop.member(points=1000)
    first = (await gql(HOLD, {"input": hold_input(member)}, token=token))["holdRewards"]
    again = (await gql(HOLD, {"input": hold_input(member)}, token=token))["holdRewards"]
    assert again["replayed"] is True and again["hold"]["id"] == first["hold"]["id"]
    assert (await points_account(shop, member)).reserved == 500
    changed = (await gql(HOLD, {"input": hold_input(member, points=600)}, token=token))[
        "holdRewards"
    ]
    assert [(e["field"], e["code"]) for e in changed["errors"]] == [
        (["input", "idempotencyKey"], "IDEMPOTENCY_CONFLICT")
    ]
    assert (await points_account(shop, member)).reserved == 500


async def test_held_points_cannot_be_redeemed_elsewhere(shop, api_key, gql):
    token = await api_key(shop.brand, "write")
    member = await shop.member(points=1000)
    await gql(HOLD, {"input": hold_input(member, points=800)}, token=token)

    def redeem(points: int, key: str) -> dict[str, Any]:
        return {"input": {"memberId": mid(member), "points": points, "idempotencyKey": key}}

    refused = (await gql(REDEEM_POINTS, redeem(300, "r-1"), token=token))["redeemPoints"]
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [
        (["input", "points"], "INSUFFICIENT_POINTS")
    ]
    assert "800 held" in refused["errors"][0]["message"]
    ok = (await gql(REDEEM_POINTS, redeem(200, "r-2"), token=token))["redeemPoints"]
    assert ok == {"balance": 800, "errors": []}
    # Nor can a second checkout hold them.
    second = (await gql(HOLD, {"input": hold_input(member, "hold-2", points=100)}, token=token))[
        "holdRewards"
    ]
    assert [(e["field"], e["code"]) for e in second["errors"]] == [
        (["input", "points"], "INSUFFICIENT_POINTS")
    ]


async def test_a_coupon_held_by_one_checkout_cannot_be_held_or_used_by_another(shop, api_key, gql):
    token = await api_key(shop.brand, "write")
    member = await shop.member(points=0)
    coupon = await shop.coupon(member)
    await gql(HOLD, {"input": hold_input(member, points=0, couponCodes=[coupon.code])}, token=token)
    second = (
        await gql(
            HOLD,
            {"input": hold_input(member, "hold-2", points=0, couponCodes=[coupon.code])},
            token=token,
        )
    )["holdRewards"]
    assert [(e["field"], e["code"]) for e in second["errors"]] == [
        (["input", "couponCodes", "0"], "COUPON_HELD")
    ]
    recorded = (
        await gql(RECORD, {"input": order_input(member, couponCodes=[coupon.code])}, token=token)
    )["recordOrder"]
    assert [(e["field"], e["code"]) for e in recorded["errors"]] == [
        (["input", "couponCodes", "0"], "COUPON_HELD")
    ]


async def test_record_order_redeems_its_coupon_codes_in_its_transaction(shop, api_key, gql):
    token = await api_key(shop.brand, "write")
    member = await shop.member(points=0)
    coupon = await shop.coupon(member)
    recorded = (
        await gql(
            RECORD,
            {"input": order_input(member, couponCodes=[coupon.code.lower()])},
            token=token,
        )
    )["recordOrder"]
    assert recorded["errors"] == []
    assert recorded["outcome"]["couponsUsed"] == [
        {"coupon": {"code": coupon.code, "status": "REDEEMED"}, "discount": {"amount": "20.00"}}
    ]
    order = await shop.scope.query(Order).get()
    assert (await shop.scope.query(CouponRedemption).get()).order_id == order.id


async def test_record_order_refuses_a_bad_coupon_code_and_changes_nothing(shop, api_key, gql):
    token = await api_key(shop.brand, "write")
    member = await shop.member(points=0)
    someone = await shop.member(points=0)
    good = await shop.coupon(member)
    used = await shop.coupon(member)
    await redeem_coupon(
        shop.scope, code=used.code, member_id=member.id, idempotency_key="u", order_amount=10000
    )
    expired = await shop.coupon(member)
    await (
        shop.scope.query(Coupon)
        .filter(id=expired.id)
        .update(
            valid_from=expired.valid_from.replace(year=2020),
            expires_at=expired.expires_at.replace(year=2021),
        )
    )
    shoes_only = await shop.coupon(member, await shop.template_of(categories=["shoes"]))
    big_spend = await shop.coupon(
        member, await shop.template_of(min_spend=MoneyAmount(Decimal("1000.00"), "CNY"))
    )
    theirs = await shop.coupon(someone)
    cases = {
        "NOSUCHCODE": "NOT_FOUND",
        used.code: "COUPON_REDEEMED",
        expired.code: "COUPON_EXPIRED",
        shoes_only.code: "NOT_APPLICABLE",
        big_spend.code: "BELOW_MINIMUM_SPEND",
        theirs.code: "NOT_FOUND",
    }
    for n, (code, expected) in enumerate(cases.items()):
        result = (
            await gql(
                RECORD,
                {"input": order_input(member, f"bad-{n}", couponCodes=[good.code, code])},
                token=token,
            )
        )["recordOrder"]
        assert [(e["field"], e["code"]) for e in result["errors"]] == [
            (["input", "couponCodes", "1"], expected)
        ], code
    assert not await shop.scope.query(Order).exists()
    assert not await shop.scope.query(MemberStats).filter(orders_count__gt=0).exists()
    assert (await shop.scope.query(Coupon).get(id=good.id)).status == "available"
    assert not await shop.scope.query(CouponRedemption).filter(coupon_id=good.id).exists()


async def test_redeem_coupon_at_checkout_then_record_order_links_it(shop, api_key, gql):
    token = await api_key(shop.brand, "write")
    member = await shop.member(points=0)
    coupon = await shop.coupon(member)
    await redeem_coupon(
        shop.scope,
        code=coupon.code,
        member_id=member.id,
        idempotency_key="at-till",
        order_amount=20000,
        external_order_id="web-1",
    )
    recorded = (
        await gql(RECORD, {"input": order_input(member, couponCodes=[coupon.code])}, token=token)
    )["recordOrder"]
    assert recorded["errors"] == []
    order = await shop.scope.query(Order).get()
    redemptions = await shop.scope.query(CouponRedemption).filter(coupon_id=coupon.id)
    assert [r.order_id for r in redemptions] == [order.id]


async def test_preview_shows_the_discount_of_the_codes(shop, api_key, gql):
    token = await api_key(shop.brand, "read")
    member = await shop.member(points=0)
    coupon = await shop.coupon(member)
    preview = """
    query($order: RecordOrderInput!) {
      previewOrderRewards(order: $order) {
        couponsApplied { coupon { code } discount { amount } }
        couponDiscount { amount }
      }
    }
    """
    data = (
        await gql(preview, {"order": order_input(member, couponCodes=[coupon.code])}, token=token)
    )["previewOrderRewards"]
    assert data == {
        "couponsApplied": [{"coupon": {"code": coupon.code}, "discount": {"amount": "20.00"}}],
        "couponDiscount": {"amount": "20.00"},
    }
    body = await gql(
        preview,
        {"order": order_input(member, couponCodes=[coupon.code, "NOSUCHCODE"])},
        token=token,
        errors_ok=True,
    )
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert (await shop.scope.query(Coupon).get(id=coupon.id)).status == "available"


async def test_order_outcomes_load_without_a_query_per_order(shop, api_key, gql):
    token = await api_key(shop.brand, "read", "write")
    query = """
    query($id: ID!) {
      member(id: $id) {
        orders(first: 20) { edges { node {
          member { id }
          outcome { points pointsRedeemed couponsUsed { coupon { code } } tierChange { reason } }
        } } }
      }
    }
    """

    async def queries_for(orders: int) -> int:
        member = await shop.member(points=0)
        for n in range(orders):
            coupon = await shop.coupon(member)
            await gql(
                RECORD,
                {"input": order_input(member, f"{member.id}-{n}", couponCodes=[coupon.code])},
                token=token,
            )
        async with record_database() as counter:
            data = await gql(query, {"id": mid(member)}, token=token)
        assert len(data["member"]["orders"]["edges"]) == orders
        return len(counter.round_trips)

    assert await queries_for(2) == await queries_for(6)


async def test_the_outcome_shows_an_upgrade_and_its_gift_coupon(shop, api_key, gql):
    from tessera.features.service import set_feature
    from tessera.tiers.definitions import create_tier

    gift = await shop.template_of(title="welcome to gold")
    await create_tier(shop.scope, {"code": "silver", "name": "Silver", "rank": 1})
    await create_tier(
        shop.scope,
        {"code": "gold", "name": "Gold", "rank": 2, "gift_coupon_template_ids": [gift.id]},
    )
    await set_feature(
        shop.scope,
        "tiers.cumulative_spend",
        enabled=True,
        config={"thresholds": {"silver": "0", "gold": "150"}, "window_months": 12},
    )
    token = await api_key(shop.brand, "write")
    member = await shop.member(points=0)
    recorded = (await gql(RECORD, {"input": order_input(member)}, token=token))["recordOrder"]
    assert recorded["errors"] == []
    outcome = recorded["outcome"]
    assert outcome["tierChange"] == {"reason": "UPGRADE"}
    issued = await shop.scope.query(Coupon).get(member_id=member.id, template_id=gift.id)
    assert outcome["couponsIssued"] == [{"code": issued.code}]
