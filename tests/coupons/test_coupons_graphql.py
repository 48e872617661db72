"""Coupons through the API: template CRUD, issuing, the member's wallet
without N+1, redeeming with a member token, voiding, scopes."""

from __future__ import annotations

import asyncio

from coupon_inputs import T0

from tessera import db
from tessera.auth.member_tokens import issue_member_token
from tessera.coupons import service
from tessera.coupons.models import Coupon, CouponTemplate
from tessera.schema.ids import encode_id
from tessera.scope import BrandScope
from tessera.testing import record_database

CREATE = """
mutation($input: CreateCouponTemplateInput!) {
  createCouponTemplate(input: $input) {
    template { id kind title amountOff { amount currency } percentOff minSpend { amount }
               validDays totalStock remainingStock perMemberLimit active }
    errors { field code message }
  }
}"""

ISSUE = """
mutation($input: IssueCouponInput!) {
  issueCoupon(input: $input) {
    coupon { id code status memberId expiresAt template { title } }
    errors { field code }
  }
}"""

REDEEM = """
mutation($input: RedeemCouponInput!) {
  redeemCoupon(input: $input) {
    coupon { code status redeemedAt }
    redemption { externalOrderId orderAmount { amount } discount { amount } }
    discount { amount currency }
    replayed
    errors { field code }
  }
}"""


async def test_template_crud_and_validation_through_the_api(brand_a, api_key, gql):
    admin = await api_key(brand_a, "admin")
    bad = await gql(
        CREATE,
        {"input": {"kind": "PERCENT_OFF", "title": "x", "percentOff": 0, "validDays": 0}},
        token=admin,
    )
    assert {(tuple(e["field"]), e["code"]) for e in bad["createCouponTemplate"]["errors"]} == {
        (("input", "percentOff"), "OUT_OF_RANGE"),
        (("input", "validDays"), "OUT_OF_RANGE"),
    }
    assert await BrandScope(brand_a).query(CouponTemplate).count() == 0

    made = await gql(
        CREATE,
        {
            "input": {
                "kind": "AMOUNT_OFF",
                "title": "20 off 100",
                "amountOff": {"amount": "20.00", "currency": "CNY"},
                "minSpend": {"amount": "100", "currency": "CNY"},
                "validDays": 7,
                "totalStock": 100,
            }
        },
        token=admin,
    )
    template = made["createCouponTemplate"]["template"]
    assert made["createCouponTemplate"]["errors"] == []
    assert template["amountOff"] == {"amount": "20.00", "currency": "CNY"}
    assert (template["remainingStock"], template["active"], template["perMemberLimit"]) == (
        100,
        True,
        None,
    )
    updated = await gql(
        """mutation($id: ID!) { updateCouponTemplate(input: {id: $id, active: false,
             totalStock: null}) { template { active totalStock title } errors { code } } }""",
        {"id": template["id"]},
        token=admin,
    )
    assert updated["updateCouponTemplate"]["template"] == {
        "active": False,
        "totalStock": None,
        "title": "20 off 100",
    }
    listed = await gql(
        "{ couponTemplates(active: false) { totalCount edges { node { id title } } } }",
        token=admin,
    )
    assert listed["couponTemplates"]["totalCount"] == 1
    assert (
        await gql(
            "query($id: ID!) { couponTemplate(id: $id) { title } }",
            {"id": template["id"]},
            token=admin,
        )
    )["couponTemplate"]["title"] == "20 off 100"
    deleted = await gql(
        "mutation($id: ID!) { deleteCouponTemplate(input: {id: $id}) { deletedId errors { code } } }",
        {"id": template["id"]},
        token=admin,
    )
    assert deleted["deleteCouponTemplate"]["deletedId"] == template["id"]
    assert await BrandScope(brand_a).query(CouponTemplate).count() == 0


async def test_template_crud_needs_the_admin_scope(brand_a, api_key, gql):
    writer = await api_key(brand_a, "write")
    body = await gql(
        CREATE,
        {"input": {"kind": "FREE_SHIPPING", "title": "Ship", "validDays": 3}},
        token=writer,
        errors_ok=True,
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_issue_then_redeem_with_the_members_own_token(
    brand_a, api_key, gql, make_template, make_member
):
    writer = await api_key(brand_a, "write")
    template = await make_template(brand_a, title="Welcome")
    member = await make_member(brand_a)
    member_id = encode_id("Member", member.id)
    issue_input = {
        "templateId": encode_id("CouponTemplate", template.id),
        "memberId": member_id,
        "idempotencyKey": "welcome",
    }
    issued = (await gql(ISSUE, {"input": issue_input}, token=writer))["issueCoupon"]
    assert issued["errors"] == []
    coupon = issued["coupon"]
    assert (coupon["status"], coupon["memberId"], coupon["template"]["title"]) == (
        "AVAILABLE",
        member_id,
        "Welcome",
    )
    replay = (await gql(ISSUE, {"input": issue_input}, token=writer))["issueCoupon"]
    assert replay["coupon"]["code"] == coupon["code"]

    token = issue_member_token(BrandScope(brand_a), member).token
    wallet = await gql(
        "{ me { coupons(status: AVAILABLE) { edges { node { code } } } } }", token=token
    )
    assert wallet["me"]["coupons"]["edges"] == [{"node": {"code": coupon["code"]}}]
    redeem_input = {
        "code": coupon["code"].lower(),
        "orderAmount": {"amount": "88.00", "currency": "CNY"},
        "externalOrderId": "app-77",
        "idempotencyKey": "app-77-coupon",
    }
    redeemed = (await gql(REDEEM, {"input": redeem_input}, token=token))["redeemCoupon"]
    assert redeemed["errors"] == []
    assert redeemed["coupon"]["status"] == "REDEEMED"
    assert redeemed["discount"] == {"amount": "20.00", "currency": "CNY"}
    assert redeemed["redemption"]["externalOrderId"] == "app-77"
    again = (await gql(REDEEM, {"input": redeem_input}, token=token))["redeemCoupon"]
    assert again["replayed"] is True
    wallet = await gql(
        "{ me { available: coupons(status: AVAILABLE) { totalCount } "
        "all: coupons { edges { node { status } } } } }",
        token=token,
    )
    assert wallet["me"] == {
        "available": {"totalCount": 0},
        "all": {"edges": [{"node": {"status": "REDEEMED"}}]},
    }


async def test_a_member_token_cannot_redeem_another_members_coupon(
    brand_a, gql, make_template, make_member
):
    scope = BrandScope(brand_a)
    template = await make_template(brand_a)
    owner, other = await make_member(brand_a), await make_member(brand_a)
    coupon = await service.issue_coupon(
        scope, template_id=template.id, member_id=owner.id, idempotency_key="o"
    )
    token = issue_member_token(scope, other).token
    for extra in ({}, {"memberId": encode_id("Member", owner.id)}):
        result = await gql(
            REDEEM,
            {
                "input": {
                    "code": coupon.code,
                    "orderAmount": {"amount": "100", "currency": "CNY"},
                    "idempotencyKey": "steal",
                    **extra,
                }
            },
            token=token,
        )
        assert result["redeemCoupon"]["errors"] == [
            {"field": ["input", "code"], "code": "NOT_FOUND"}
        ]
    assert (await scope.get(Coupon, coupon.id)).status == "available"


async def test_member_coupons_load_in_one_query_for_a_page_of_members(
    brand_a, api_key, gql, make_template, make_member
):
    scope = BrandScope(brand_a)
    template = await make_template(brand_a)
    members = [await make_member(brand_a) for _ in range(5)]
    await service.issue_coupons(
        scope, template_id=template.id, member_ids=[m.id for m in members], idempotency_key="b"
    )
    reader = await api_key(brand_a, "read")
    query = (
        "{ members(first: 5) { edges { node { "
        "coupons(status: AVAILABLE) { edges { node { code } } } } } } }"
    )
    await gql(query, token=reader)  # warm the parser and key caches
    async with record_database() as few:
        await gql(query, token=reader)
    async with record_database() as one:
        await gql(query.replace("first: 5", "first: 1"), token=reader)
    data = await gql(query, token=reader)
    assert all(len(e["node"]["coupons"]["edges"]) == 1 for e in data["members"]["edges"])
    assert len(few.round_trips) == len(one.round_trips)
    assert sum("coupon" in q for q in few.statements) == 1


async def test_bulk_issue_and_void_through_the_api(
    brand_a, api_key, gql, make_template, make_member
):
    writer = await api_key(brand_a, "write")
    template = await make_template(brand_a, total_stock=1)
    one, two = await make_member(brand_a), await make_member(brand_a)
    data = await gql(
        """mutation($input: IssueCouponsInput!) { issueCoupons(input: $input) {
             results { index coupon { code } errors { field code } } errors { code } } }""",
        {
            "input": {
                "templateId": encode_id("CouponTemplate", template.id),
                "memberIds": [encode_id("Member", one.id), encode_id("Member", two.id), "junk"],
                "idempotencyKey": "bulk-1",
            }
        },
        token=writer,
    )
    results = data["issueCoupons"]["results"]
    assert results[0]["errors"] == [] and results[0]["coupon"]["code"]
    assert results[1]["errors"] == [{"field": ["input", "memberIds", "1"], "code": "OUT_OF_STOCK"}]
    assert results[2]["errors"] == [{"field": ["input", "memberIds", "2"], "code": "NOT_FOUND"}]
    code = results[0]["coupon"]["code"]
    voided = await gql(
        """mutation($code: String!) { voidCoupon(input: {code: $code, reason: "duplicate"}) {
             coupon { status voidReason } errors { code } } }""",
        {"code": code},
        token=writer,
    )
    assert voided["voidCoupon"]["coupon"] == {"status": "VOIDED", "voidReason": "duplicate"}
    found = await gql(
        "query($code: String!) { coupon(code: $code) { status } }",
        {"code": code.replace("-", "")},
        token=await api_key(brand_a, "read"),
    )
    assert found["coupon"] == {"status": "VOIDED"}


async def test_expired_coupon_reads_expired_and_is_refused(
    brand_a, api_key, gql, make_template, make_member
):
    scope = BrandScope(brand_a)
    template = await make_template(brand_a, valid_days=1)
    member = await make_member(brand_a)
    coupon = await service.issue_coupon(
        scope, template_id=template.id, member_id=member.id, idempotency_key="old", now=T0
    )
    writer = await api_key(brand_a, "write")
    result = await gql(
        REDEEM,
        {
            "input": {
                "code": coupon.code,
                "memberId": encode_id("Member", member.id),
                "orderAmount": {"amount": "100", "currency": "CNY"},
                "idempotencyKey": "late",
            }
        },
        token=writer,
    )
    assert result["redeemCoupon"]["errors"] == [
        {"field": ["input", "code"], "code": "COUPON_EXPIRED"}
    ]
    found = await gql(
        "query($code: String!) { coupon(code: $code) { status } }",
        {"code": coupon.code},
        token=writer,
    )
    assert found["coupon"]["status"] == "EXPIRED"


async def test_twenty_concurrent_retries_through_the_api_all_answer_the_redemption(
    brand_a, api_key, gql, make_template, make_member, late_retries, tessera_database_url
):
    scope = BrandScope(brand_a)
    template = await make_template(brand_a)
    member = await make_member(brand_a)
    coupon = await service.issue_coupon(
        scope, template_id=template.id, member_id=member.id, idempotency_key="c"
    )
    writer = await api_key(brand_a, "write")
    redeem_input = {
        "code": coupon.code,
        "memberId": encode_id("Member", member.id),
        "orderAmount": {"amount": "88.00", "currency": "CNY"},
        "externalOrderId": "app-retried",
        "idempotencyKey": "app-retried-coupon",
    }
    # Each mutation runs in one transaction with its audit entry, holding a
    # pooled connection throughout. On SQLite (one writer) that serialises the
    # calls, so each later one replays; on PostgreSQL the gate forces the
    # interleaving that made retries answer COUPON_REDEEMED among as many calls
    # as the pool (5 connections) lets run at once; the rest queue behind them.
    gate = late_retries(4) if db.is_postgres(tessera_database_url) else None

    async def retry():
        try:
            return await gql(REDEEM, {"input": redeem_input}, token=writer)
        finally:
            if gate is not None:
                gate.done()

    answers = await asyncio.gather(*(retry() for _ in range(20)))
    payloads = [a["redeemCoupon"] for a in answers]
    assert [p["errors"] for p in payloads] == [[]] * 20
    assert sorted(p["replayed"] for p in payloads) == [False] + [True] * 19
    assert {p["coupon"]["status"] for p in payloads} == {"REDEEMED"}
    assert {p["discount"]["amount"] for p in payloads} == {"20.00"}
