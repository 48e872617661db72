"""The compiled SQL selects exactly the members the plain-Python reference
evaluator selects, for random brands (timezone, clock, members, tags, orders,
events, lifecycle, segments) and random rules, on the database under test.

Each example writes a fresh brand's rows, checks several rules against them,
and deletes the brand (its rows go with it), so examples do not see each
other and the function-scoped fixtures are safe to share between them.
"""

from __future__ import annotations

import itertools
import tempfile
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from reference import (
    AssignmentRow,
    EventRow,
    LifecycleRow,
    LineRow,
    MemberRow,
    OrderRow,
    World,
    evaluate,
)
from tortoise import connections

from tessera.assets.models import AssetAccount
from tessera.behaviour.models import BehaviourEvent
from tessera.coupons.models import Coupon, CouponTemplate
from tessera.members.models import Member
from tessera.orders.models import MemberStats, Order, OrderLine
from tessera.scope import BrandScope
from tessera.segments.compiler import compile_member_ids
from tessera.segments.models import MemberLifecycle, Segment, SegmentMembership
from tessera.segments.rules import parse_rule
from tessera.segments.timewindows import local_midnight, local_today
from tessera.tags.models import Tag, TagAssignment
from tessera.testing import make_brand
from tessera.tiers.models import MemberTierState, TierDefinition

set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "tessera-hypothesis")

TIMEZONES = ["Asia/Shanghai", "America/New_York", "UTC", "Pacific/Auckland", "Europe/London"]
# Clocks at awkward moments: leap day, year end, DST changes, month ends.
NOWS = [
    datetime(2024, 2, 29, 3, 0, tzinfo=UTC),
    datetime(2023, 12, 31, 20, 30, tzinfo=UTC),
    datetime(2025, 3, 1, 12, 0, tzinfo=UTC),
    datetime(2024, 11, 3, 6, 30, tzinfo=UTC),
    datetime(2025, 1, 1, 0, 0, 1, tzinfo=UTC),
    datetime(2024, 3, 31, 0, 59, tzinfo=UTC),
    datetime(2025, 6, 30, 15, 59, 59, tzinfo=UTC),
]
SKUS = ["SKU1", "SKU2", "sku1"]
CATEGORIES = ["skincare", "makeup", "Skincare"]
EVENT_TYPES = ["view", "cart"]
TAG_CODES = ["vip", "new", "*"]
TIERS = {"silver": 1, "gold": 2, "platinum": 3}
STAGES = ["new", "active", "silent", "sleeping", "about_to_churn", "churned"]
ATTRIBUTE_VALUES: dict[str, list[Any]] = {
    "skin": ["dry", "Dry", "oily"],
    "score": [1, 2.5, 3, "3", -1],
    "vip": [True, False, "true"],
    "since": ["2024-01-01", "2023-06-15"],
}
_ids = itertools.count(1_000_000)


# --- worlds ----------------------------------------------------------------


@st.composite
def instants(draw: st.DrawFn, tz: str, now: datetime, future: bool = False) -> datetime:
    """Instants near local midnights (where off-by-one bugs live) or anywhere in a day."""
    today = local_today(now, tz)
    days_ago = draw(st.integers(-3 if future else 0, 800))
    start = local_midnight(today - timedelta(days=days_ago), tz)
    seconds = draw(st.sampled_from([-1, 0, 1]) | st.integers(0, 86_399))
    instant = start + timedelta(seconds=seconds)
    return instant if future else min(instant, now)


@st.composite
def birthdays(draw: st.DrawFn, today: date) -> date | None:
    kind = draw(st.sampled_from(["none", "near", "leap", "any"]))
    if kind == "none":
        return None
    if kind == "leap":
        return date(draw(st.sampled_from([1988, 2000, 2004])), 2, 29)
    if kind == "near":
        near = today + timedelta(days=draw(st.integers(-3, 40)))
        year = draw(st.integers(1950, 2015))
        return near.replace(year=year) if not (near.month == 2 and near.day == 29) else near
    return draw(st.dates(date(1940, 1, 1), date(2020, 12, 31)))


@st.composite
def worlds(draw: st.DrawFn) -> tuple[World, datetime]:
    tz = draw(st.sampled_from(TIMEZONES))
    now = draw(st.sampled_from(NOWS)) + timedelta(hours=draw(st.integers(0, 23)))
    today = local_today(now, tz)
    world = World(timezone=tz, exponent=2, tag_codes=TAG_CODES, tiers=dict(TIERS))
    for _ in range(draw(st.integers(0, 8))):
        member = MemberRow(
            id=next(_ids),
            gender=draw(st.sampled_from(["female", "male", "unknown"])),
            status=draw(st.sampled_from(["active", "prospect", "frozen"])),
            join_channel=draw(st.sampled_from(["pos", "app", ""])),
            province=draw(st.sampled_from(["Zhejiang", "zhejiang", ""])),
            city=draw(st.sampled_from(["Hangzhou", ""])),
            birthday=draw(birthdays(today)),
            joined_at=draw(instants(tz, now)),
            attributes={
                key: draw(st.sampled_from(values))
                for key, values in ATTRIBUTE_VALUES.items()
                if draw(st.booleans())
            },
        )
        world.members.append(member)
        for _ in range(draw(st.integers(0, 3))):
            lines = []
            for _ in range(draw(st.integers(1, 2))):
                paid = draw(st.integers(0, 5000))
                lines.append(
                    LineRow(
                        sku=draw(st.sampled_from(SKUS)),
                        category=draw(st.sampled_from([*CATEGORIES, None])),
                        paid_amount=paid,
                        refunded_amount=draw(st.sampled_from([0, paid, paid // 2])),
                    )
                )
            paid = sum(x.paid_amount for x in lines)
            line_refunds = sum(x.refunded_amount for x in lines)
            extra = draw(st.integers(0, paid - line_refunds))
            world.orders.append(
                OrderRow(member.id, draw(instants(tz, now)), paid, line_refunds + extra, lines)
            )
        for _ in range(draw(st.integers(0, 4))):
            world.events.append(
                EventRow(member.id, draw(st.sampled_from(EVENT_TYPES)), draw(instants(tz, now)))
            )
        for code in draw(st.lists(st.sampled_from(TAG_CODES), max_size=3, unique=True)):
            expires = draw(st.none() | st.just(now) | instants(tz, now, future=True))
            world.assignments.append(
                AssignmentRow(member.id, code, draw(instants(tz, now)), expires)
            )
        tier = draw(st.none() | st.sampled_from(sorted(TIERS)))
        if tier:
            world.member_tiers[member.id] = tier
        if draw(st.booleans()):
            world.points[member.id] = draw(st.integers(0, 3000))
        for _ in range(draw(st.integers(0, 3))):
            status = draw(st.sampled_from(["available", "redeemed", "voided"]))
            world.coupons.append(
                (member.id, status, draw(st.just(now) | instants(tz, now, future=True)))
            )
        if draw(st.booleans()):
            score = st.none() | st.integers(1, 5)
            world.lifecycle[member.id] = LifecycleRow(
                draw(st.sampled_from(STAGES)), draw(score), draw(score), draw(score)
            )
    ids = [m.id for m in world.members]
    for segment in (1, 2):
        world.segments[segment] = (
            set(draw(st.lists(st.sampled_from(ids), unique=True))) if ids else set()
        )
    return world, now


# --- rules -----------------------------------------------------------------

amounts = st.integers(0, 12000).map(lambda cents: str(Decimal(cents).scaleb(-2)))


def _key(value: Any) -> Any:
    # Amounts are strings of decimals; dates are ISO strings.
    return Decimal(value) if isinstance(value, str) and "-" not in value else value


def ranges(values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    def shape(pair: tuple[Any, Any]) -> dict[str, Any]:
        low, high = pair
        if low is not None and high is not None and _key(low) > _key(high):
            low, high = high, low
        return {k: v for k, v in (("min", low), ("max", high)) if v is not None}

    return (
        st.tuples(st.none() | values, st.none() | values)
        .filter(lambda p: p != (None, None))
        .map(shape)
    )


def windows(now: datetime) -> st.SearchStrategy[dict[str, Any]]:
    day = st.dates(date(2021, 6, 1), date(2025, 12, 31)).map(date.isoformat)
    periods = [
        "today",
        "yesterday",
        "this_week",
        "last_week",
        "this_month",
        "last_month",
        "this_year",
        "last_year",
    ]
    return st.one_of(
        st.integers(1, 400).map(lambda n: {"lastDays": n}),
        st.integers(1, 400).map(lambda n: {"olderThanDays": n}),
        st.sampled_from(periods).map(lambda p: {"period": p}),
        st.tuples(day, day).map(lambda p: {"from": min(p), "to": max(p)}),
        day.map(lambda d: {"from": d}),
        day.map(lambda d: {"to": d}),
    )


def leaves(now: datetime) -> st.SearchStrategy[dict[str, Any]]:
    window = windows(now)
    maybe_window = st.none() | window
    counts = ranges(st.integers(0, 4))

    def clean(d: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in d.items() if v is not None}

    attribute = st.one_of(
        st.builds(lambda v: {"key": "skin", "equals": v}, st.sampled_from(["dry", "Dry", "oily"])),
        st.builds(
            lambda v: {"key": "skin", "in": v},
            st.lists(st.sampled_from(["dry", "oily"]), min_size=1),
        ),
        st.builds(lambda v: {"key": "score", "equals": v}, st.sampled_from([1, 2.5, 3])),
        st.builds(lambda v: {"key": "score", **v}, ranges(st.sampled_from([0, 1, 2.5, 3, 10]))),
        st.builds(lambda v: {"key": "vip", "equals": v}, st.booleans()),
        st.builds(
            lambda v: {"key": "since", **v},
            ranges(st.sampled_from(["2023-01-01", "2024-01-01", "2024-06-01"])),
        ),
    ).map(lambda d: {"type": "attribute", **d})
    return st.one_of(
        st.builds(
            lambda f, v: {"type": "profile", "field": f, "in": v},
            st.sampled_from(["joinChannel", "province", "city"]),
            st.lists(
                st.sampled_from(["pos", "app", "", "Zhejiang", "zhejiang", "Hangzhou"]), min_size=1
            ),
        ),
        st.builds(
            lambda v: {"type": "profile", "field": "gender", "in": v},
            st.lists(st.sampled_from(["female", "male", "other"]), min_size=1),
        ),
        st.builds(
            lambda v: {"type": "profile", "field": "status", "in": v},
            st.lists(st.sampled_from(["active", "prospect"]), min_size=1),
        ),
        st.one_of(
            st.just({"thisMonth": True}),
            st.integers(0, 365).map(lambda n: {"nextDays": n}),
            st.lists(st.integers(1, 12), min_size=1, max_size=3).map(lambda m: {"months": m}),
        ).map(lambda d: {"type": "birthday", **d}),
        ranges(st.integers(0, 90)).map(lambda d: {"type": "age", **d}),
        window.map(lambda w: {"type": "joined", "within": w}),
        attribute,
        st.builds(
            lambda has, codes, w: clean(
                {"type": "tags", "has": has, "codes": codes, "assignedWithin": w}
            ),
            st.sampled_from(["any", "all", "none"]),
            st.lists(st.sampled_from([*TAG_CODES, "ghost"]), min_size=1, max_size=3, unique=True),
            maybe_window,
        ),
        st.builds(
            lambda metric, r: {"type": "stats", "metric": metric, **r},
            st.sampled_from(["totalSpent", "averageOrderValue", "spentLast365Days"]),
            ranges(amounts),
        ),
        ranges(st.integers(0, 4)).map(lambda r: {"type": "stats", "metric": "ordersCount", **r}),
        st.builds(
            lambda t, w: {"type": t, "within": w},
            st.sampled_from(["firstOrder", "lastOrder"]),
            window,
        ),
        st.builds(
            lambda w, skus, cats, count, amount: clean(
                {
                    "type": "orders",
                    "within": w,
                    "skus": skus,
                    "categories": cats,
                    "count": count,
                    "amount": amount,
                }
            ),
            maybe_window,
            st.none() | st.lists(st.sampled_from(SKUS), min_size=1, max_size=2),
            st.none() | st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=2),
            st.none() | counts,
            st.none() | ranges(amounts),
        ),
        st.builds(
            lambda e, w, c: clean({"type": "events", "event": e, "within": w, "count": c}),
            st.sampled_from([*EVENT_TYPES, "never"]),
            maybe_window,
            st.none() | counts,
        ),
        st.lists(st.sampled_from(STAGES), min_size=1, max_size=3).map(
            lambda s: {"type": "lifecycle", "in": s}
        ),
        st.builds(
            lambda rr, f, m: clean({"type": "rfm", "recency": rr, "frequency": f, "monetary": m}),
            st.none() | ranges(st.integers(1, 5)),
            st.none() | ranges(st.integers(1, 5)),
            st.none() | ranges(st.integers(1, 5)),
        ).filter(lambda d: len(d) > 1),
        st.sampled_from([1, 2]).map(lambda s: {"type": "segment", "segment": s}),
        st.lists(st.sampled_from([*TIERS, "bronze"]), min_size=1, max_size=2).map(
            lambda t: {"type": "tier", "in": t}
        ),
        st.sampled_from([*TIERS, "bronze"]).map(lambda t: {"type": "tier", "atLeast": t}),
        ranges(st.integers(0, 3000)).map(lambda r: {"type": "points", **r}),
        st.none().map(lambda _: {"type": "coupons"}),
        counts.map(lambda c: {"type": "coupons", "count": c}),
    )


def groups(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        st.lists(children, min_size=1, max_size=3).map(lambda c: {"all": c}),
        st.lists(children, min_size=1, max_size=3).map(lambda c: {"any": c}),
        children.map(lambda c: {"not": c}),
    )


def rules(now: datetime) -> st.SearchStrategy[dict[str, Any]]:
    return st.recursive(leaves(now), groups, max_leaves=5)


# --- storing a world ---------------------------------------------------------


async def store(world: World, brand_id: int) -> dict[int, int]:
    """Write the world's rows for the brand; returns segment number -> id."""
    b = {"brand_id": brand_id}
    await Member.bulk_create(
        [
            Member(
                id=m.id,
                gender=m.gender,
                status=m.status,
                join_channel=m.join_channel,
                province=m.province,
                city=m.city,
                birthday=m.birthday,
                joined_at=m.joined_at,
                attributes=m.attributes,
                **b,
            )
            for m in world.members
        ]
    )
    orders, lines = [], []
    for number, o in enumerate(world.orders):
        order_id = next(_ids)
        orders.append(
            Order(
                id=order_id,
                member_id=o.member_id,
                external_id=f"o{number}",
                occurred_at=o.occurred_at,
                amount_paid=o.amount_paid,
                retail_amount=o.amount_paid,
                discount=0,
                units=len(o.lines),
                refunded_amount=o.refunded_amount,
                fingerprint="x",
                **b,
            )
        )
        lines += [
            OrderLine(
                id=next(_ids),
                order_id=order_id,
                line_no=i,
                sku=x.sku,
                category=x.category,
                quantity=1,
                unit_price=x.paid_amount,
                retail_price=x.paid_amount,
                paid_amount=x.paid_amount,
                refunded_amount=x.refunded_amount,
                **b,
            )
            for i, x in enumerate(o.lines)
        ]
    await Order.bulk_create(orders)
    await OrderLine.bulk_create(lines)
    stats = []
    for m in world.members:
        count, _, first, last = world.stats(m.id)
        if count:
            mine = [o for o in world.orders if o.member_id == m.id]
            stats.append(
                MemberStats(
                    member_id=m.id,
                    orders_count=count,
                    gross_spent=sum(o.amount_paid for o in mine),
                    refunded_total=sum(o.refunded_amount for o in mine),
                    first_order_at=first,
                    last_order_at=last,
                    **b,
                )
            )
    await MemberStats.bulk_create(stats)
    await BehaviourEvent.bulk_create(
        [
            BehaviourEvent(
                id=next(_ids),
                member_id=e.member_id,
                event_id=f"e{i}",
                type=e.type,
                occurred_at=e.occurred_at,
                fingerprint="x",
                **b,
            )
            for i, e in enumerate(world.events)
        ]
    )
    tag_ids = {code: next(_ids) for code in world.tag_codes}
    await Tag.bulk_create([Tag(id=pk, code=code, name=code, **b) for code, pk in tag_ids.items()])
    await TagAssignment.bulk_create(
        [
            TagAssignment(
                id=next(_ids),
                tag_id=tag_ids[a.code],
                member_id=a.member_id,
                source="manual",
                created_at=a.created_at,
                expires_at=a.expires_at,
                **b,
            )
            for a in world.assignments
        ]
    )
    await MemberLifecycle.bulk_create(
        [
            MemberLifecycle(
                member_id=member_id,
                stage=row.stage,
                recency_score=row.recency,
                frequency_score=row.frequency,
                monetary_score=row.monetary,
                computed_at=datetime(2024, 1, 1, tzinfo=UTC),
                **b,
            )
            for member_id, row in world.lifecycle.items()
        ]
    )
    tier_ids = {code: next(_ids) for code in world.tiers}
    await TierDefinition.bulk_create(
        [
            TierDefinition(id=pk, code=code, name=code, rank=world.tiers[code], **b)
            for code, pk in tier_ids.items()
        ]
    )
    await MemberTierState.bulk_create(
        [
            MemberTierState(member_id=member_id, tier_id=tier_ids[code], since=now_stub(), **b)
            for member_id, code in world.member_tiers.items()
        ]
    )
    await AssetAccount.bulk_create(
        [
            AssetAccount(id=next(_ids), member_id=member_id, kind=kind, balance=balance, **b)
            for member_id, balance in world.points.items()
            # A stored-value account of the same size must not count as points.
            for kind in ("points", "stored_value")
        ]
    )
    template = await CouponTemplate.create(id=next(_ids), kind="gift", title="t", **b)
    await Coupon.bulk_create(
        [
            Coupon(
                id=next(_ids),
                template_id=template.id,
                member_id=member_id,
                code=f"c{i}",
                status=status,
                issued_at=now_stub(),
                valid_from=now_stub(),
                expires_at=ends,
                idempotency_key=f"k{i}",
                fingerprint="x",
                **b,
            )
            for i, (member_id, status, ends) in enumerate(world.coupons)
        ]
    )
    segment_ids = {}
    for number, members in world.segments.items():
        segment = await Segment.create(id=next(_ids), name=f"s{number}", kind="dynamic", **b)
        segment_ids[number] = segment.id
        await SegmentMembership.bulk_create(
            [
                SegmentMembership(
                    segment_id=segment.id,
                    member_id=member_id,
                    entered_at=datetime(2024, 1, 1, tzinfo=UTC),
                    **b,
                )
                for member_id in sorted(members)
            ]
        )
    return segment_ids


def now_stub() -> datetime:
    return datetime(2020, 1, 1, tzinfo=UTC)


def renumber(rule: Any, segment_ids: dict[int, int]) -> Any:
    """The generated rule with segment numbers replaced by the stored ids."""
    if isinstance(rule, dict):
        if rule.get("type") == "segment":
            return {**rule, "segment": segment_ids[rule["segment"]]}
        return {k: renumber(v, segment_ids) for k, v in rule.items()}
    if isinstance(rule, list):
        return [renumber(v, segment_ids) for v in rule]
    return rule


_brands = itertools.count(1)


@settings(max_examples=60)
@given(data=st.data())
async def test_compiled_sql_matches_the_reference_evaluator(tessera_db, data) -> None:
    world, now = data.draw(worlds(), label="world")
    brand = await make_brand(f"prop-{next(_brands)}", timezone=world.timezone)
    try:
        segment_ids = await store(world, brand.id)
        # Segment ids are stored ids; the reference keys memberships by them too.
        world.segments = {segment_ids[n]: members for n, members in world.segments.items()}
        conn = connections.get("default")
        for raw in data.draw(st.lists(rules(now), min_size=1, max_size=6), label="rules"):
            stored = renumber(raw, segment_ids)
            sql, params = compile_member_ids(BrandScope(brand), parse_rule(stored), now)
            _, rows = await conn.execute_query(sql, params)
            found = {row[0] for row in rows}
            # The reference reads the raw rule, not the parser's reading of it.
            assert found == evaluate(stored, world, now), stored
    finally:
        await brand.delete()
