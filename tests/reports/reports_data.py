"""Facts for report tests, written straight into the tables (members and
orders as the order pipeline stores them), so generated and imported
histories of thousands of orders load in seconds. The reports read only
these columns; the pipeline's own tests cover how they are written."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tessera.members.models import Member
from tessera.orders.models import Order
from tessera.reports.service import clear_cache
from tessera.scope import BrandScope
from tessera.tenancy.models import Brand
from tessera.testing import make_brand

brand_numbers = itertools.count()
loads = itertools.count()
ALL_REPORTS = (
    "reports.sales",
    "reports.member_growth",
    "reports.retention",
    "reports.lifecycle",
    "reports.tiers",
    "reports.liability",
)


@dataclass(frozen=True)
class M:
    """A member: ``card`` False for a prospect (not joined yet)."""

    joined_at: datetime
    card: bool = True
    join_channel: str = ""
    join_source: str = ""


@dataclass(frozen=True)
class Buy:
    member: int  # index into the members loaded
    at: datetime
    paid: int
    units: int = 1
    retail: int | None = None
    refunded: int = 0
    refunded_units: int = 0
    store: str | None = None
    channel: str | None = None


async def report_brand(timezone: str = "UTC") -> Brand:
    from tessera.features.service import set_feature

    brand = await make_brand(f"rep-{next(brand_numbers)}", timezone=timezone)
    for key in ALL_REPORTS:
        await set_feature(BrandScope(brand), key, enabled=True)
    return brand


async def load(brand: Brand, members: Sequence[M], orders: Sequence[Buy]) -> list[int]:
    """Insert the members and orders; returns the members' ids."""
    scope = BrandScope(brand)
    batch = next(loads)
    prefix = f"{brand.code}-{batch}-"
    rows = [
        scope.build(
            Member,
            external_id=f"{prefix}{i}",
            card_number=f"C{batch}-{i}" if m.card else None,
            status="active" if m.card else "prospect",
            joined_at=m.joined_at,
            join_channel=m.join_channel,
            join_source=m.join_source,
        )
        for i, m in enumerate(members)
    ]
    for chunk in range(0, len(rows), 2000):
        await scope.insert_many(Member, rows[chunk : chunk + 2000])
    by_external = dict(
        await scope.query(Member)
        .filter(external_id__startswith=prefix)
        .values_list("external_id", "id")
    )
    ids = [by_external[f"{prefix}{i}"] for i in range(len(members))]
    order_rows = [
        scope.build(
            Order,
            member_id=ids[o.member],
            external_id=f"{prefix}o{n}",
            store_code=o.store,
            channel=o.channel,
            occurred_at=o.at,
            amount_paid=o.paid,
            retail_amount=o.paid if o.retail is None else o.retail,
            discount=max((o.paid if o.retail is None else o.retail) - o.paid, 0),
            units=o.units,
            refunded_amount=o.refunded,
            refunded_units=o.refunded_units,
            fingerprint="test",
        )
        for n, o in enumerate(orders)
    ]
    for chunk in range(0, len(order_rows), 2000):
        await scope.insert_many(Order, order_rows[chunk : chunk + 2000])
    clear_cache()
    return ids


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def values(result: Any) -> tuple[dict[str, Any], dict[str, list[Any]], dict[str, Any]]:
    """A report's figures, series and table rows by key: what two ways of
    computing it must agree on."""
    return (
        {f.key: f.value for f in result.figures},
        {s.key: list(s.values) for s in result.series},
        {t.key: t.rows for t in result.tables},
    )
