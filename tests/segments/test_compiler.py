"""The rule compiler against a real database: the shape of the one statement,
the brand wall, timezones, references checked before SQL, and the preview."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from tortoise import connections

from tessera.errors import DomainErrors
from tessera.members.models import AttributeDefinition, Member
from tessera.orders.models import MemberStats, Order, OrderLine
from tessera.scope import BrandScope
from tessera.segments.compiler import compile_member_ids, count_and_sample
from tessera.segments.models import MemberLifecycle, Segment, SegmentMembership
from tessera.segments.references import check_references
from tessera.segments.rules import parse_rule
from tessera.tags.models import Tag, TagAssignment
from tessera.testing import make_brand
from tessera.tiers.models import MemberTierState, TierDefinition

NOW = datetime(2025, 5, 20, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai


async def member(brand: Any, **values: Any) -> Member:
    values.setdefault("joined_at", NOW - timedelta(days=400))
    return await Member.create(brand_id=brand.id, **values)


async def order(brand: Any, who: Member, at: datetime, paid: int, *lines: tuple[str, str]) -> None:
    o = await Order.create(
        brand_id=brand.id, member_id=who.id, external_id=f"o-{who.id}-{at.timestamp()}",
        occurred_at=at, amount_paid=paid, retail_amount=paid, discount=0, units=len(lines),
        fingerprint="x",
    )  # fmt: skip
    for i, (sku, category) in enumerate(lines):
        await OrderLine.create(
            brand_id=brand.id, order_id=o.id, line_no=i, sku=sku, category=category, quantity=1,
            unit_price=paid, retail_price=paid, paid_amount=paid // len(lines),
        )  # fmt: skip
    stats = await MemberStats.get_or_none(member_id=who.id)
    if stats is None:
        await MemberStats.create(
            brand_id=brand.id, member_id=who.id, orders_count=1, gross_spent=paid,
            first_order_at=at, last_order_at=at,
        )  # fmt: skip
    else:
        stats.orders_count += 1
        stats.gross_spent += paid
        stats.first_order_at = min(stats.first_order_at, at)
        stats.last_order_at = max(stats.last_order_at, at)
        await stats.save()


async def tier(brand: Any, code: str, rank: int) -> TierDefinition:
    return await TierDefinition.create(brand_id=brand.id, code=code, name=code, rank=rank)


async def matching(brand: Any, rule: dict[str, Any], now: datetime = NOW) -> set[int]:
    sql, params = compile_member_ids(BrandScope(brand), parse_rule(rule), now)
    _, rows = await connections.get("default").execute_query(sql, params)
    return {row[0] for row in rows}


def skincare_rule() -> dict[str, Any]:
    return {
        "all": [
            {"type": "tier", "in": ["gold"]},
            {"type": "orders", "within": {"lastDays": 90}, "categories": ["skincare"]},
            {"not": {"type": "orders", "within": {"lastDays": 30}, "categories": ["skincare"]}},
        ]
    }


async def test_gold_members_who_bought_skincare_in_90_days_but_not_in_30(brand_a, brand_b):
    gold = await tier(brand_a, "gold", 2)
    lapsed, recent, other_category, not_gold = [
        await member(brand_a, name=n) for n in ("lapsed", "recent", "makeup", "silver")
    ]
    for who in (lapsed, recent, other_category):
        await MemberTierState.create(
            brand_id=brand_a.id, member_id=who.id, tier_id=gold.id, since=NOW
        )
    await order(brand_a, lapsed, NOW - timedelta(days=45), 9900, ("S1", "skincare"))
    await order(brand_a, recent, NOW - timedelta(days=45), 9900, ("S1", "skincare"))
    await order(brand_a, recent, NOW - timedelta(days=3), 9900, ("S1", "skincare"))
    await order(brand_a, other_category, NOW - timedelta(days=45), 9900, ("M1", "makeup"))
    await order(brand_a, not_gold, NOW - timedelta(days=45), 9900, ("S1", "skincare"))
    # Brand B has a gold member with the same history: never in brand A's result.
    b_gold = await tier(brand_b, "gold", 2)
    b_member = await member(brand_b)
    await MemberTierState.create(
        brand_id=brand_b.id, member_id=b_member.id, tier_id=b_gold.id, since=NOW
    )
    await order(brand_b, b_member, NOW - timedelta(days=45), 9900, ("S1", "skincare"))

    assert await matching(brand_a, skincare_rule()) == {lapsed.id}
    assert await matching(brand_b, skincare_rule()) == {b_member.id}


async def test_one_statement_with_every_value_a_parameter(brand_a):
    rule = parse_rule(
        {
            "any": [
                {"type": "tags", "has": "any", "codes": ["x' OR 1=1 --"]},
                {"type": "profile", "field": "city", "in": ["*"]},
                {"type": "events", "event": "view", "within": {"lastDays": 7}},
            ]
        }
    )
    sql, params = compile_member_ids(BrandScope(brand_a), rule, NOW)
    assert sql.startswith('SELECT "m"."id" FROM "member" "m" WHERE')
    assert sql.count(";") == 0
    assert {"x' OR 1=1 --", "*", "view", brand_a.id} <= set(params)
    assert "OR 1=1" not in sql and "'*'" not in sql and "'view'" not in sql
    await member(brand_a, city="Hangzhou")
    assert await matching(brand_a, rule.to_json()) == set()


async def test_only_member_ids_restricts_the_statement(brand_a):
    first, second = await member(brand_a), await member(brand_a)
    rule = parse_rule({"type": "profile", "field": "status", "in": ["active"]})
    for only, expected in (([second.id], {second.id}), ([], set())):
        sql, params = compile_member_ids(BrandScope(brand_a), rule, NOW, only_member_ids=only)
        _, rows = await connections.get("default").execute_query(sql, params)
        assert {row[0] for row in rows} == expected
    assert await matching(brand_a, rule.to_json()) == {first.id, second.id}


async def test_birthday_this_month_and_next_days_use_the_brand_timezone(tessera_db):
    shanghai = await make_brand("tz-sh", timezone="Asia/Shanghai")
    new_york = await make_brand("tz-ny", timezone="America/New_York")
    # 2025-02-28 20:00 UTC is 1 March in Shanghai, still 28 February in New York.
    now = datetime(2025, 2, 28, 20, 0, tzinfo=UTC)
    ids = {}
    for brand in (shanghai, new_york):
        ids[brand.code] = {
            day: (await member(brand, birthday=day)).id
            for day in (date(1990, 3, 1), date(1990, 2, 28), date(2000, 2, 29))
        }
    this_month = {"type": "birthday", "thisMonth": True}
    today = {"type": "birthday", "nextDays": 0}
    sh, ny = ids["tz-sh"], ids["tz-ny"]
    assert await matching(shanghai, this_month, now) == {sh[date(1990, 3, 1)]}
    assert await matching(new_york, this_month, now) == {
        ny[date(1990, 2, 28)],
        ny[date(2000, 2, 29)],
    }
    # In 2025 a 29 February birthday is celebrated on 1 March.
    assert await matching(shanghai, today, now) == {sh[date(1990, 3, 1)], sh[date(2000, 2, 29)]}
    assert await matching(new_york, today, now) == {ny[date(1990, 2, 28)]}


async def test_missing_values_are_false_so_not_is_exact(brand_a):
    with_birthday = await member(brand_a, birthday=date(1990, 1, 1), attributes={"score": 5})
    without = await member(brand_a, attributes={"score": "5"})
    for condition in (
        {"type": "age", "min": 18},
        {"type": "attribute", "key": "score", "min": 1},
        {"type": "lastOrder", "within": {"lastDays": 3000}},
        {"type": "rfm", "recency": {"min": 1}},
    ):
        matched = await matching(brand_a, condition)
        negated = await matching(brand_a, {"not": condition})
        assert matched | negated == {with_birthday.id, without.id}
        assert not matched & negated
    assert await matching(brand_a, {"type": "age", "min": 18}) == {with_birthday.id}


async def test_stats_treat_members_without_orders_as_zero(brand_a):
    buyer, idle = await member(brand_a), await member(brand_a)
    await order(brand_a, buyer, NOW - timedelta(days=400), 5000, ("A", "x"))
    await order(brand_a, buyer, NOW - timedelta(days=2), 2001, ("A", "x"))
    # Average 3500.5 minor units: above 35.00, below 35.01, compared without rounding.
    assert await matching(
        brand_a, {"type": "stats", "metric": "averageOrderValue", "min": "35.00"}
    ) == {buyer.id}
    assert (
        await matching(brand_a, {"type": "stats", "metric": "averageOrderValue", "min": "35.01"})
        == set()
    )
    assert await matching(brand_a, {"type": "stats", "metric": "totalSpent", "max": 0}) == {idle.id}
    assert await matching(
        brand_a, {"type": "stats", "metric": "spentLast365Days", "min": "20.01", "max": "20.01"}
    ) == {buyer.id}
    assert await matching(brand_a, {"type": "stats", "metric": "ordersCount", "max": 1}) == {
        idle.id
    }


async def test_expired_tag_assignments_never_match(brand_a):
    vip = await Tag.create(brand_id=brand_a.id, code="vip", name="VIP")
    live, expired = await member(brand_a), await member(brand_a)
    await TagAssignment.create(
        brand_id=brand_a.id, tag_id=vip.id, member_id=live.id, source="manual"
    )
    await TagAssignment.create(
        brand_id=brand_a.id, tag_id=vip.id, member_id=expired.id, source="manual", expires_at=NOW
    )
    assert await matching(brand_a, {"type": "tags", "has": "any", "codes": ["vip"]}) == {live.id}
    assert await matching(brand_a, {"type": "tags", "has": "none", "codes": ["vip"]}) == {
        expired.id
    }


async def test_segment_and_lifecycle_conditions_read_stored_rows_of_the_brand(brand_a, brand_b):
    inside, outside = await member(brand_a), await member(brand_a)
    segment = await Segment.create(brand_id=brand_a.id, name="s", kind="dynamic")
    await SegmentMembership.create(
        brand_id=brand_a.id, segment_id=segment.id, member_id=inside.id, entered_at=NOW
    )
    await MemberLifecycle.create(
        brand_id=brand_a.id, member_id=outside.id, stage="silent", computed_at=NOW
    )
    assert await matching(brand_a, {"type": "segment", "segment": segment.id}) == {inside.id}
    assert await matching(brand_a, {"type": "lifecycle", "in": ["silent"]}) == {outside.id}
    # Brand B naming brand A's segment reads nothing of it.
    await member(brand_b)
    assert await matching(brand_b, {"type": "segment", "segment": segment.id}) == set()


async def test_check_references_names_what_the_brand_lacks(brand_a, brand_b):
    await AttributeDefinition.create(
        brand_id=brand_a.id, key="skin", type="enum", allowed_values=["dry", "oily"]
    )
    await AttributeDefinition.create(brand_id=brand_a.id, key="score", type="number")
    b_segment = await Segment.create(brand_id=brand_b.id, name="b", kind="dynamic")
    rule = parse_rule(
        {
            "all": [
                {"type": "tags", "has": "any", "codes": ["ghost"]},
                {"type": "attribute", "key": "skin", "equals": "greasy"},
                {"type": "attribute", "key": "score", "equals": "high"},
                {"type": "attribute", "key": "height", "min": 1},
                {"type": "tier", "atLeast": "gold"},
                {"type": "segment", "segment": b_segment.id},
            ]
        }
    )
    with pytest.raises(DomainErrors) as caught:
        await check_references(BrandScope(brand_a), rule)
    found = {(tuple(e.field or []), e.code) for e in caught.value.errors}
    assert found == {
        (("rule", "all", "0", "codes"), "UNKNOWN_TAG"),
        (("rule", "all", "1", "equals"), "INVALID"),
        (("rule", "all", "2", "equals"), "INVALID"),
        (("rule", "all", "3", "key"), "UNKNOWN_ATTRIBUTE"),
        (("rule", "all", "4", "atLeast"), "UNKNOWN_TIER"),
        (("rule", "all", "5", "segment"), "NOT_FOUND"),
    }


async def test_amounts_finer_than_the_currency_are_refused(tessera_db):
    yen = await make_brand("yen", currency="JPY", timezone="Asia/Tokyo")
    rule = parse_rule({"all": [{"type": "orders", "amount": {"min": "10.5"}}]})
    with pytest.raises(DomainErrors) as caught:
        compile_member_ids(BrandScope(yen), rule, NOW)
    assert caught.value.errors[0].field == ["rule", "all", "0", "amount", "min"]


async def test_count_and_sample_reads_only(brand_a, assert_round_trips):
    members = [await member(brand_a, gender="female") for _ in range(3)]
    await member(brand_a, gender="male")
    rule = parse_rule({"type": "profile", "field": "gender", "in": ["female"]})
    async with assert_round_trips(3) as queries:
        total, sample = await count_and_sample(BrandScope(brand_a), rule, NOW, sample=2)
    assert total == 3
    assert [m.id for m in sample] == [members[2].id, members[1].id]
    assert all(q.lstrip().upper().startswith("SELECT") for q in queries.statements)
