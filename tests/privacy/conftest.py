"""A member with a history in every table that can hold one."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tessera.assets import service as assets
from tessera.behaviour.service import EventInput, record_events
from tessera.coupons import service as coupons
from tessera.demo_data import generate
from tessera.members.models import Member
from tessera.members.service import add_identity, update_member
from tessera.orders.inputs import MemberRef
from tessera.orders.models import MemberStats
from tessera.orders.money import MoneyAmount
from tessera.scope import BrandScope
from tessera.segments.models import SegmentMembership
from tessera.segments.service import SegmentKind, create_segment
from tessera.tenancy.models import Brand


@dataclass
class Rich:
    scope: BrandScope
    member: Member
    others: list[int]


async def make_rich(brand: Brand, seed: int) -> Rich:
    """Demo members with orders, refunds, events and tags (seeded), the one
    with most orders given points, stored value, a coupon, a segment and an
    openid besides."""
    scope = BrandScope(brand)
    now = datetime.now(UTC).replace(microsecond=0)
    await generate(scope, 6, seed=seed, now=now, refund_rate=0.3)
    busiest = await scope.query(MemberStats).order_by("-orders_count", "member_id").first()
    assert busiest is not None
    member_id = busiest.member_id
    rng = random.Random(seed)
    # The demo's order numbers are made from its members' external ids; a
    # shop's are not: give the member an account id of its own.
    await update_member(scope, member_id, {"external_id": f"shop-{seed}-{rng.randrange(10**9)}"})
    member = await scope.query(Member).get(id=member_id)
    if not member.phone:
        await add_identity(scope, member_id, "phone", f"+86138{rng.randrange(10**8):08d}")
    if not member.email:
        await add_identity(scope, member_id, "email", f"p{seed}.{rng.randrange(10**6)}@example.com")
    await add_identity(scope, member_id, "wechat_openid", f"oOpenid{seed}x{rng.randrange(10**9)}")
    await assets.earn_points(
        scope,
        member_id,
        rng.randrange(1, 500),
        idempotency_key=f"earn-{seed}",
        reason="welcome",
        source_type="campaign",
    )
    await assets.top_up_stored_value(
        scope,
        member_id,
        rng.randrange(100, 10000),
        idempotency_key=f"sv-{seed}",
        reason="gift",
    )
    template = await coupons.create_template(
        scope,
        {
            "kind": "amount_off",
            "title": "10 off",
            "amount_off": MoneyAmount(Decimal("10.00"), brand.currency),
            "valid_days": 7,
        },
    )
    await coupons.issue_coupon(
        scope, template_id=template.id, member_id=member_id, idempotency_key=f"c-{seed}"
    )
    segment = await create_segment(scope, f"Hand-picked {seed}", SegmentKind.STATIC)
    await scope.create(
        SegmentMembership, segment_id=segment.id, member_id=member_id, entered_at=now
    )
    await record_events(
        scope,
        [
            EventInput(
                f"ev-{seed}-{i}",
                MemberRef(member_id=member_id),
                "page.view",
                now - timedelta(days=i),
                {"page": f"/p/{i}"},
            )
            for i in range(3)
        ],
    )
    member = await scope.query(Member).get(id=member_id)
    others = [m for m in await scope.query(Member).values_list("id", flat=True) if m != member_id]
    return Rich(scope, member, others)


@pytest.fixture
def rich_member(tessera_db) -> Callable[[Brand, int], Awaitable[Rich]]:
    return make_rich
