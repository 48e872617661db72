"""Tier CRUD through the API: validation, typed benefits, the admin scope."""

from __future__ import annotations

from decimal import Decimal

from tessera.coupons import service as coupons
from tessera.orders.money import MoneyAmount
from tessera.schema.ids import encode_id
from tessera.scope import BrandScope
from tessera.tiers.models import TierDefinition

CREATE = """mutation($i: CreateTierInput!) { createTier(input: $i) {
  tier { id code name rank validityMonths upgradeGift { points couponTemplateIds }
         benefits { kind percentOff perMonth } }
  errors { field code message } } }"""


async def test_an_admin_defines_tiers_with_typed_benefits(gql, api_key, brand_a):
    token = await api_key(brand_a, "admin")
    data = await gql(
        CREATE,
        {
            "i": {
                "code": "gold",
                "name": "Gold",
                "rank": 2,
                "giftPoints": 500,
                "validityMonths": 12,
                "benefits": [
                    {"kind": "MEMBER_PRICE", "percentOff": 5},
                    {"kind": "FREE_SHIPPING"},
                ],
            }
        },
        token=token,
    )
    tier = data["createTier"]["tier"]
    assert data["createTier"]["errors"] == []
    assert (tier["code"], tier["rank"], tier["validityMonths"]) == ("gold", 2, 12)
    assert tier["upgradeGift"] == {"points": 500, "couponTemplateIds": []}
    assert tier["benefits"] == [
        {"kind": "MEMBER_PRICE", "percentOff": 5, "perMonth": None},
        {"kind": "FREE_SHIPPING", "percentOff": None, "perMonth": None},
    ]
    listed = await gql("{ tiers { code } }", token=await api_key(brand_a, "read"))
    assert listed["tiers"] == [{"code": "gold"}]


async def test_a_duplicate_rank_is_refused_on_the_field_and_nothing_changes(gql, api_key, brand_a):
    token = await api_key(brand_a, "admin")
    await gql(CREATE, {"i": {"code": "silver", "name": "Silver", "rank": 1}}, token=token)
    data = await gql(CREATE, {"i": {"code": "gold", "name": "Gold", "rank": 1}}, token=token)
    assert data["createTier"]["tier"] is None
    assert [(e["field"], e["code"]) for e in data["createTier"]["errors"]] == [
        (["input", "rank"], "DUPLICATE")
    ]
    assert await BrandScope(brand_a).query(TierDefinition).count() == 1


async def test_bad_benefits_and_ranges_name_each_field(gql, api_key, brand_a):
    token = await api_key(brand_a, "admin")
    data = await gql(
        CREATE,
        {
            "i": {
                "code": "Gold!",
                "name": "Gold",
                "rank": 5000,
                "validityMonths": 0,
                "giftCouponTemplateIds": ["nope"],
                "benefits": [{"kind": "MEMBER_PRICE", "percentOff": 150}],
            }
        },
        token=token,
    )
    fields = sorted(tuple(e["field"]) for e in data["createTier"]["errors"])
    assert fields == [
        ("input", "benefits", "0", "percent_off"),
        ("input", "code"),
        ("input", "giftCouponTemplateIds", "0"),
        ("input", "rank"),
        ("input", "validityMonths"),
    ]
    assert not await BrandScope(brand_a).query(TierDefinition).exists()


async def test_update_and_delete_need_admin_and_keep_history_safe(gql, api_key, brand_a):
    admin = await api_key(brand_a, "admin")
    created = await gql(CREATE, {"i": {"code": "gold", "name": "Gold", "rank": 2}}, token=admin)
    tier_id = created["createTier"]["tier"]["id"]
    writer = await api_key(brand_a, "write")
    body = await gql(
        'mutation($id: ID!) { updateTier(input: {id: $id, name: "X"}) { errors { code } } }',
        {"id": tier_id},
        token=writer,
        errors_ok=True,
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    updated = await gql(
        'mutation($id: ID!) { updateTier(input: {id: $id, name: "Gold+", validityMonths: null})'
        " { tier { name validityMonths } errors { code } } }",
        {"id": tier_id},
        token=admin,
    )
    assert updated["updateTier"]["tier"] == {"name": "Gold+", "validityMonths": None}
    deleted = await gql(
        "mutation($id: ID!) { deleteTier(input: {id: $id}) { deletedId errors { code } } }",
        {"id": tier_id},
        token=admin,
    )
    assert deleted["deleteTier"] == {"deletedId": tier_id, "errors": []}


async def test_a_rule_config_out_of_range_is_refused_naming_the_field(gql, api_key, brand_a):
    token = await api_key(brand_a, "admin")
    data = await gql(
        'mutation { setFeature(input: {component: "points.campaign", config: {multiplier: "20",'
        ' starts_at: "2026-02-01T00:00:00+08:00", ends_at: "2026-01-01T00:00:00+08:00"}})'
        " { feature { component } errors { field code } } }",
        token=token,
    )
    errors = data["setFeature"]["errors"]
    assert data["setFeature"]["feature"] is None
    assert ["input", "config", "multiplier"] in [e["field"] for e in errors]
    assert {e["code"] for e in errors} == {"INVALID_CONFIG"}


async def test_tier_changes_reach_plugins_as_events(brand_a, register_plugin):
    from datetime import UTC, datetime

    from tessera import DomainEvent, PointsRule, hookimpl
    from tessera.features.service import set_feature
    from tessera.members.service import create_member
    from tessera.orders.inputs import MemberRef, OrderInput
    from tessera.orders.money import MoneyAmount
    from tessera.pipeline.orders import record_order
    from tessera.tiers.definitions import create_tier

    received: list[DomainEvent] = []

    class Quiet(PointsRule):
        key = "test.quiet_rule"
        title = "Listens"

        async def points_for(self, fact):
            return 0

    class Listener:
        @hookimpl
        def tessera_register_points_rules(self):
            return [Quiet]

        @hookimpl
        def tessera_on_event(self, event):
            received.append(event)

    register_plugin(Listener(), "tier-listener")
    scope = BrandScope(brand_a)
    await create_tier(scope, {"code": "gold", "name": "Gold", "rank": 1, "gift_points": 5})
    await set_feature(scope, "test.quiet_rule", enabled=True)
    await set_feature(
        scope, "tiers.cumulative_spend", enabled=True, config={"thresholds": {"gold": "10"}}
    )
    member = await create_member(scope, {"name": "Ann"}, identities=[("app_user_id", "ann")])
    at = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
    await record_order(
        scope,
        OrderInput("o-1", MemberRef(member_id=member.id), at, MoneyAmount(Decimal("10"), "CNY")),
        now=at,
    )
    changed = [e for e in received if e.name == "tier.changed"]
    assert [(e.payload["to_tier"], e.payload["reason"]) for e in changed] == [("gold", "upgrade")]
    assert {"points.changed", "order.recorded"} <= {e.name for e in received}


async def test_a_gift_benefit_names_its_coupon_template_by_opaque_id(
    gql, api_key, brand_a, brand_b
):
    token = await api_key(brand_a, "admin")
    row = {"kind": "amount_off", "title": "5 off", "valid_days": 7}
    own = await coupons.create_template(
        BrandScope(brand_a), {**row, "amount_off": MoneyAmount(Decimal("5"), "CNY")}
    )
    foreign = await coupons.create_template(
        BrandScope(brand_b), {**row, "amount_off": MoneyAmount(Decimal("5"), "USD")}
    )
    template = encode_id("CouponTemplate", own.id)
    query = CREATE.replace(
        "benefits { kind percentOff perMonth }", "benefits { kind couponTemplateId }"
    )
    data = await gql(
        query,
        {
            "i": {
                "code": "gold",
                "name": "Gold",
                "rank": 2,
                "benefits": [{"kind": "BIRTHDAY_GIFT", "couponTemplateId": template}],
            }
        },
        token=token,
    )
    assert data["createTier"]["tier"]["benefits"] == [
        {"kind": "BIRTHDAY_GIFT", "couponTemplateId": template}
    ]
    stored = await BrandScope(brand_a).query(TierDefinition).get(code="gold")
    assert stored.benefits[0]["coupon_template_id"] == own.id
    wrong = await gql(
        query,
        {
            "i": {
                "code": "silver",
                "name": "Silver",
                "rank": 1,
                "benefits": [{"kind": "BIRTHDAY_GIFT", "couponTemplateId": "7"}],
            }
        },
        token=token,
    )
    assert [(e["field"], e["code"]) for e in wrong["createTier"]["errors"]] == [
        (["input", "benefits", "0", "couponTemplateId"], "NOT_FOUND")
    ]
    # Another brand's template is as unknown as a missing one.
    theirs = await gql(
        query,
        {
            "i": {
                "code": "silver",
                "name": "Silver",
                "rank": 1,
                "benefits": [
                    {"kind": "BIRTHDAY_GIFT", "couponTemplateId": template},
                    {
                        "kind": "ANNIVERSARY_GIFT",
                        "couponTemplateId": encode_id("CouponTemplate", foreign.id),
                    },
                ],
            }
        },
        token=token,
    )
    assert [(e["field"], e["code"]) for e in theirs["createTier"]["errors"]] == [
        (["input", "benefits", "1", "couponTemplateId"], "NOT_FOUND")
    ]
