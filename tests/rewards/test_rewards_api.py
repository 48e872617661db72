"""previewOrderRewards against recordOrder, Member's tier fields, points as
cash against an order, referrals, campaigns."""

from __future__ import annotations

from datetime import timedelta

import pytest
from loyalty_programme import REGISTRATION, T0, enable, member, order, standard_programme

from tessera.assets.service import balances
from tessera.errors import DomainError
from tessera.pipeline.orders import record_order
from tessera.rewards.activities import record_referral
from tessera.schema.ids import encode_id
from tessera.scope import BrandScope
from tessera.testing import record_database

PREVIEW = """query($o: RecordOrderInput!) { previewOrderRewards(order: $o) {
  awards { rule points reason memberId } totalPoints growth pendingUntil
  tierBefore { code } tierAfter { code } upgrade coupons { code } } }"""
RECORD = """mutation($o: RecordOrderInput!) { recordOrder(input: $o) { order { id }
  errors { code message } } }"""
MEMBER = """query($id: ID!) { member(id: $id) {
  tier { code } tierExpiresAt tierProgress { nextTier { code } measure current required
    currentAmount { amount currency } requiredAmount { amount currency } }
  tierHistory { edges { node { fromTier { code } toTier { code } reason policy source orderId } } }
  assets { points } } }"""


def order_json(external_id: str, member_id: int, amount: str, at=T0) -> dict:
    return {
        "externalId": external_id,
        "occurredAt": at.isoformat(),
        "memberId": encode_id("Member", member_id),
        "amountPaid": {"amount": amount, "currency": "CNY"},
        "lines": [
            {
                "sku": "A",
                "quantity": 1,
                "unitPrice": {"amount": amount, "currency": "CNY"},
                "category": "shoes",
            }
        ],
    }


async def test_the_preview_is_what_recording_the_order_then_does(gql, api_key, brand_a):
    await standard_programme(brand_a)
    await enable(
        brand_a,
        "points.campaign",
        {
            "multiplier": "2",
            "starts_at": (T0 - timedelta(days=1)).isoformat(),
            "ends_at": (T0 + timedelta(days=1)).isoformat(),
        },
    )
    m = await member(brand_a, "p1")
    reader, writer = await api_key(brand_a, "read"), await api_key(brand_a, "write")
    incoming = order_json("o-1", m.id, "1500.00")

    preview = (await gql(PREVIEW, {"o": incoming}, token=reader))["previewOrderRewards"]
    assert [(a["rule"], a["points"]) for a in preview["awards"]] == [
        ("points.purchase", 1500),
        ("points.campaign", 1500),
    ]
    # Silver from joining, gold from this order.
    assert (preview["tierBefore"], preview["tierAfter"], preview["upgrade"]) == (
        {"code": "silver"},
        {"code": "gold"},
        True,
    )
    scope = BrandScope(brand_a)
    # The preview wrote nothing: the member holds only what joining earned.
    assert (await balances(scope, [m.id]))[m.id].points == REGISTRATION

    recorded = await gql(RECORD, {"o": incoming}, token=writer)
    assert recorded["recordOrder"]["errors"] == []
    data = (await gql(MEMBER, {"id": encode_id("Member", m.id)}, token=reader))["member"]
    assert data["tier"] == preview["tierAfter"]
    # What the preview listed, plus the gold upgrade gift it promised by `upgrade`.
    assert data["assets"]["points"] == REGISTRATION + preview["totalPoints"] + 500
    assert [e["node"] for e in data["tierHistory"]["edges"]] == [
        {
            "fromTier": None,
            "toTier": {"code": "silver"},
            "reason": "UPGRADE",
            "policy": "tiers.cumulative_spend",
            "source": "activity",
            "orderId": None,
        },
        {
            "fromTier": {"code": "silver"},
            "toTier": {"code": "gold"},
            "reason": "UPGRADE",
            "policy": "tiers.cumulative_spend",
            "source": "order",
            "orderId": recorded["recordOrder"]["order"]["id"],
        },
    ]
    assert data["tierProgress"] == {
        "nextTier": {"code": "platinum"},
        "measure": "spend",
        "current": None,
        "required": None,
        "currentAmount": {"amount": "1500.00", "currency": "CNY"},
        "requiredAmount": {"amount": "5000.00", "currency": "CNY"},
    }
    assert data["tierExpiresAt"] is not None


async def test_member_tier_fields_load_in_a_fixed_number_of_queries(gql, api_key, brand_a):
    await standard_programme(brand_a)
    scope = BrandScope(brand_a)
    for i in range(6):
        m = await member(brand_a, f"n{i}")
        await record_order(scope, order(f"o-{i}", m.id, T0, [("A", 1, "1200.00", None)]), now=T0)
    token = await api_key(brand_a, "read")
    query = "query($n: Int) { members(first: $n) { edges { node { tier { code } tierExpiresAt tierHistory { edges { node { reason } } } } } } }"
    async with record_database() as small:
        await gql(query, {"n": 2}, token=token)
    async with record_database() as large:
        data = await gql(query, {"n": 6}, token=token)

    def ours(counter):  # the key's last-use stamp is throttled, so leave auth out
        return [q for q in counter.statements if "api_key" not in q]

    assert len(ours(large)) == len(ours(small)) == 3
    assert {e["node"]["tier"]["code"] for e in data["members"]["edges"]} == {"gold"}


async def test_points_pay_part_of_an_order_within_the_redemption_rule(gql, api_key, brand_a):
    await standard_programme(brand_a)
    scope = BrandScope(brand_a)
    m = await member(brand_a, "p2")
    stored = (
        await record_order(scope, order("o-1", m.id, T0, [("A", 1, "800.00", None)]), now=T0)
    ).order
    writer = await api_key(brand_a, "write")
    redeem = """mutation($i: RedeemPointsForOrderInput!) { redeemPointsForOrder(input: $i) {
      discount { amount currency } balance replayed errors { field code } } }"""
    base = {"memberId": encode_id("Member", m.id), "idempotencyKey": "r-1"}
    too_many = await gql(
        redeem,
        {
            "i": {
                **base,
                "points": 600,
                "orderExternalId": "cart-1",
                "orderAmount": {"amount": "10.00", "currency": "CNY"},
            }
        },
        token=writer,
    )
    assert [(e["field"], e["code"]) for e in too_many["redeemPointsForOrder"]["errors"]] == [
        (["input", "points"], "EXCEEDS_ORDER_SHARE")
    ]
    too_few = await gql(
        redeem,
        {"i": {**base, "points": 50, "orderId": encode_id("Order", stored.id)}},
        token=writer,
    )
    assert too_few["redeemPointsForOrder"]["errors"][0]["code"] == "BELOW_MINIMUM"
    done = await gql(
        redeem,
        {"i": {**base, "points": 300, "orderId": encode_id("Order", stored.id)}},
        token=writer,
    )
    assert done["redeemPointsForOrder"] == {
        "discount": {"amount": "3.00", "currency": "CNY"},
        "balance": REGISTRATION + 800 - 300,
        "replayed": False,
        "errors": [],
    }
    again = await gql(
        redeem,
        {"i": {**base, "points": 300, "orderId": encode_id("Order", stored.id)}},
        token=writer,
    )
    assert again["redeemPointsForOrder"]["replayed"] is True
    assert (await balances(scope, [m.id]))[m.id].points == REGISTRATION + 800 - 300


async def test_a_referral_rewards_both_members_once(brand_a):
    await standard_programme(brand_a)
    await enable(brand_a, "points.referral", {"referrer": 200, "referee": 50})
    scope = BrandScope(brand_a)
    referrer = await member(brand_a, "f1")
    referee = await member(brand_a, "f2")
    other = await member(brand_a, "f3")
    _, replayed = await record_referral(scope, referrer_id=referrer.id, referee_id=referee.id)
    assert not replayed
    _, replayed = await record_referral(scope, referrer_id=referrer.id, referee_id=referee.id)
    assert replayed
    found = await balances(scope, [referrer.id, referee.id])
    assert (found[referrer.id].points, found[referee.id].points) == (
        REGISTRATION + 200,
        REGISTRATION + 50,
    )
    with pytest.raises(DomainError) as refused:
        await record_referral(scope, referrer_id=other.id, referee_id=referee.id)
    assert (refused.value.code, refused.value.field) == ("ALREADY_REFERRED", ["refereeId"])
    # The refused referral earned the other member nothing beyond joining.
    assert (await balances(scope, [other.id]))[other.id].points == REGISTRATION


async def test_an_order_earning_more_than_an_entry_holds_is_refused_by_preview_and_record(
    gql, api_key, brand_a
):
    # The preview's points once overflowed GraphQL's Int: an internal error.
    await standard_programme(brand_a)
    m = await member(brand_a, "p1")
    incoming = order_json("o-big", m.id, "5000000000.00")
    reader, writer = await api_key(brand_a, "read"), await api_key(brand_a, "write")
    preview = await gql(PREVIEW, {"o": incoming}, token=reader, errors_ok=True)
    assert preview["data"] is None
    assert preview["errors"][0]["extensions"]["code"] == "AMOUNT_TOO_LARGE"
    recorded = (await gql(RECORD, {"o": incoming}, token=writer))["recordOrder"]
    assert recorded["order"] is None
    assert [e["code"] for e in recorded["errors"]] == ["AMOUNT_TOO_LARGE"]
