"""Automatic clusters: k-means over RFM and category preference, a generated
description per cluster, and clusters as a segment source."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tessera.orders.inputs import LineInput, MemberRef, OrderInput
from tessera.orders.money import MoneyAmount
from tessera.pipeline.orders import record_order
from tessera.scope import BrandScope
from tessera.segments.service import (
    RefreshTrigger,
    SegmentKind,
    create_segment,
    members_in,
    refresh_segment,
)
from tessera.slots.clusters import describe, run_clustering
from tessera.tenancy.models import Brand

_orders = itertools.count(1)
NOW = datetime.now(UTC)


async def buy(brand: Brand, member_pk: int, category: str, paid: str, days_ago: int) -> None:
    amount = MoneyAmount(Decimal(paid), brand.currency)
    await record_order(
        BrandScope(brand),
        OrderInput(
            external_id=f"k-{next(_orders)}",
            member=MemberRef(member_id=member_pk),
            occurred_at=NOW - timedelta(days=days_ago),
            amount_paid=amount,
            lines=[
                LineInput(sku=f"{category}-1", quantity=1, unit_price=amount, category=category)
            ],
        ),
    )


async def test_two_kinds_of_buyer_become_two_described_clusters_and_a_segment(
    brand_a, person, api_key, gql
):
    big = [await person(brand_a) for _ in range(6)]
    small = [await person(brand_a) for _ in range(4)]
    for p in big:
        for days in (2, 9, 20, 30):
            await buy(brand_a, p.pk, "Shoes", "800.00", days)
    for p in small:
        await buy(brand_a, p.pk, "Socks", "9.90", 300)
    await person(brand_a)  # no orders: in no cluster

    scope = BrandScope(brand_a)
    found = await run_clustering(scope, k=2)
    assert [(c.cluster, c.size) for c in found] == [(0, 6), (1, 4)]
    assert found[0].description == "high spend, recent, frequent, mostly Shoes"
    assert found[1].description == "low spend, lapsed, occasional, mostly Socks"

    listed = await gql(
        "{ memberClusters { number size description } }", token=await api_key(brand_a, "read")
    )
    assert listed["memberClusters"][0]["description"].startswith("high spend")

    segment = await create_segment(
        scope, "Big shoe buyers", SegmentKind.DYNAMIC, rule={"type": "cluster", "in": [0]}
    )
    await refresh_segment(scope, segment.id, trigger=RefreshTrigger.MANUAL)
    members = set(await members_in(scope, segment.id).values_list("member_id", flat=True))
    assert members == {p.pk for p in big}


def test_descriptions_name_what_stands_out() -> None:
    assert describe({"spent": 0.1, "days_since": 0.0, "orders": 0.0}, {"A": 0.3, "B": 0.3}) == (
        "average spend, neither recent nor lapsed, average frequency, mixed categories"
    )
