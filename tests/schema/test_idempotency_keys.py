"""A caller's idempotency key may be as long as documented (150 characters) on
every write that takes one, whatever namespace Tessera stores it under."""

from __future__ import annotations

import pytest

from tessera.coupons import service as coupons
from tessera.coupons.models import Coupon
from tessera.members.service import create_member
from tessera.schema.ids import encode_id
from tessera.scope import BrandScope

LONGEST = "k" * 150
TOO_LONG = "k" * 151

EARN = """mutation($input: PointsInput!) {
  earnPoints(input: $input) { balance errors { field code } } }"""
ISSUE = """mutation($input: IssueCouponInput!) {
  issueCoupon(input: $input) { coupon { id } errors { field code } } }"""
ISSUE_MANY = """mutation($input: IssueCouponsInput!) {
  issueCoupons(input: $input) { results { coupon { id } errors { code } } errors { field code } } }"""
REDEEM = """mutation($input: RedeemCouponInput!) {
  redeemCoupon(input: $input) { discount { amount } errors { field code } } }"""


async def _member_and_template(brand):
    scope = BrandScope(brand)
    member = await create_member(scope, {"name": "Key"}, identities=[("app_user_id", "key-1")])
    template = await coupons.create_template(
        scope, {"kind": "free_shipping", "title": "Ship", "valid_days": 7}
    )
    return encode_id("Member", member.id), encode_id("CouponTemplate", template.id)


@pytest.mark.parametrize(("key", "refused"), [(LONGEST, False), (TOO_LONG, True)])
async def test_points_take_a_key_of_the_documented_length(brand_a, api_key, gql, key, refused):
    token = await api_key(brand_a, "write")
    member, _ = await _member_and_template(brand_a)
    sent = {"input": {"memberId": member, "points": 5, "idempotencyKey": key}}
    result = (await gql(EARN, sent, token=token))["earnPoints"]
    if refused:
        assert result["errors"] == [{"field": ["input", "idempotencyKey"], "code": "TOO_LONG"}]
        assert result["balance"] is None
    else:
        assert (result["errors"], result["balance"]) == ([], 5)


@pytest.mark.parametrize(("key", "refused"), [(LONGEST, False), (TOO_LONG, True)])
async def test_coupons_take_a_key_of_the_documented_length(brand_a, api_key, gql, key, refused):
    token = await api_key(brand_a, "write")
    member, template = await _member_and_template(brand_a)
    sent = {"input": {"templateId": template, "memberId": member, "idempotencyKey": key}}
    issued = (await gql(ISSUE, sent, token=token))["issueCoupon"]
    many = {"input": {"templateId": template, "memberIds": [member], "idempotencyKey": key}}
    batch = (await gql(ISSUE_MANY, many, token=token))["issueCoupons"]
    if refused:
        error = [{"field": ["input", "idempotencyKey"], "code": "TOO_LONG"}]
        assert (issued["errors"], issued["coupon"]) == (error, None)
        assert (batch["errors"], batch["results"]) == (error, [])
        return
    assert issued["errors"] == [] and issued["coupon"] is not None
    assert batch["errors"] == [] and batch["results"][0]["errors"] == []
    code = (await BrandScope(brand_a).query(Coupon).first()).code
    use = {"code": code, "memberId": member, "orderAmount": {"amount": "10", "currency": "CNY"}}
    redeemed = (
        await gql(
            REDEEM, {"input": {**use, "externalOrderId": "o-1", "idempotencyKey": key}}, token=token
        )
    )["redeemCoupon"]
    assert redeemed["errors"] == []


async def test_an_empty_key_is_refused_not_stored_as_the_bare_namespace(brand_a, api_key, gql):
    token = await api_key(brand_a, "write")
    member, _ = await _member_and_template(brand_a)
    sent = {"input": {"memberId": member, "points": 5, "idempotencyKey": "  "}}
    result = (await gql(EARN, sent, token=token))["earnPoints"]
    assert result["errors"] == [{"field": ["input", "idempotencyKey"], "code": "REQUIRED"}]
