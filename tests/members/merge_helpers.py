"""Building members with histories across every asset, and reading back what
a merge must keep: shared by the merge tests and the merge bench."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from tessera.assets import service as assets
from tessera.assets.models import AssetAccount, LedgerEntry, PointsLot
from tessera.assets.verify import verify_brand
from tessera.behaviour.models import BehaviourEvent
from tessera.behaviour.service import EventInput, record_event
from tessera.coupons.issuing import issue_coupon
from tessera.coupons.models import Coupon
from tessera.coupons.templates import create_template
from tessera.members.models import MemberIdentity
from tessera.members.service import update_member
from tessera.orders.inputs import LineInput, MemberRef, OrderInput
from tessera.orders.models import MemberStats, Order
from tessera.orders.money import MoneyAmount
from tessera.pipeline.orders import record_order
from tessera.scope import BrandScope
from tessera.tags.models import TagAssignment
from tessera.tags.service import tag_members

T0 = datetime(2026, 3, 1, 10, tzinfo=UTC)
keys = itertools.count()


@dataclass
class History:
    """What to give one member: points earned and redeemed, stored value
    topped up and spent, growth, orders (amount in yuan), events, coupons,
    tags and attributes."""

    earn: list[int] = field(default_factory=list)
    redeem: list[int] = field(default_factory=list)
    top_up: list[int] = field(default_factory=list)
    spend: list[int] = field(default_factory=list)
    growth: list[int] = field(default_factory=list)
    orders: list[int] = field(default_factory=list)
    events: int = 0
    coupons: int = 0
    tags: list[str] = field(default_factory=list)
    attributes: dict[str, str] = field(default_factory=dict)


async def give(scope: BrandScope, member_id: int, history: History, template_id: int) -> None:
    for amount in history.earn:
        await assets.earn_points(
            scope, member_id, amount, idempotency_key=f"e{next(keys)}", reason="t", source_type="t"
        )
    for amount in history.redeem:
        balance = (await assets.balances(scope, [member_id]))[member_id].available_points
        if balance >= amount:
            await assets.redeem_points(
                scope,
                member_id,
                amount,
                idempotency_key=f"r{next(keys)}",
                reason="t",
                source_type="t",
            )
    for amount in history.top_up:
        await assets.top_up_stored_value(scope, member_id, amount, idempotency_key=f"t{next(keys)}")
    for amount in history.spend:
        balance = (await assets.balances(scope, [member_id]))[member_id].stored_value
        if balance >= amount:
            await assets.spend_stored_value(
                scope, member_id, amount, idempotency_key=f"s{next(keys)}"
            )
    for amount in history.growth:
        await assets.earn_growth(
            scope, member_id, amount, idempotency_key=f"g{next(keys)}", reason="t", source_type="t"
        )
    for i, yuan in enumerate(history.orders):
        n = next(keys)
        await record_order(
            scope,
            OrderInput(
                external_id=f"o{n}",
                member=MemberRef(member_id=member_id),
                occurred_at=T0 + timedelta(days=i, minutes=n % 60),
                amount_paid=MoneyAmount(Decimal(yuan), "CNY"),
                lines=[LineInput("SKU", 1, MoneyAmount(Decimal(yuan), "CNY"))],
            ),
        )
    for _ in range(history.events):
        await record_event(
            scope,
            EventInput(f"ev{next(keys)}", MemberRef(member_id=member_id), "page_view", T0),
        )
    for _ in range(history.coupons):
        await issue_coupon(
            scope, template_id=template_id, member_id=member_id, idempotency_key=f"c{next(keys)}"
        )
    if history.tags:
        await tag_members(scope, history.tags, member_ids=[member_id])
    if history.attributes:
        await update_member(scope, member_id, {}, attributes=history.attributes)


async def coupon_template(scope: BrandScope) -> int:
    template = await create_template(
        scope,
        {
            "kind": "amount_off",
            "title": "5 off",
            "amount_off": MoneyAmount(Decimal("5.00"), "CNY"),
            "valid_days": 30,
        },
    )
    return template.id


async def figures(scope: BrandScope, member_ids: list[int]) -> dict[str, Any]:
    """Everything a merge adds up, summed over ``member_ids``."""
    balances = await assets.balances(scope, member_ids)
    stats = await scope.query(MemberStats).filter(member_id__in=member_ids)
    tags = await scope.query(TagAssignment).filter(member_id__in=member_ids)
    return {
        "points": sum(b.points for b in balances.values()),
        "pending": sum(b.pending_points for b in balances.values()),
        "stored_value": sum(b.stored_value for b in balances.values()),
        "growth": sum(b.growth for b in balances.values()),
        "entries": Counter(
            (e.kind, e.entry_type)
            for e in await scope.query(LedgerEntry).filter(member_id__in=member_ids)
        ),
        "orders": await scope.query(Order).filter(member_id__in=member_ids).count(),
        "orders_count": sum(s.orders_count for s in stats),
        "gross_spent": sum(s.gross_spent for s in stats),
        "units": sum(s.units_bought for s in stats),
        "events": await scope.query(BehaviourEvent).filter(member_id__in=member_ids).count(),
        "coupons": await scope.query(Coupon).filter(member_id__in=member_ids).count(),
        "identities": await scope.query(MemberIdentity).filter(member_id__in=member_ids).count(),
        "tags": {t.tag_id for t in tags},
    }


async def ledger_problems(scope: BrandScope) -> list[str]:
    return [str(p) async for p in verify_brand(scope)]


async def lots_of(scope: BrandScope, member_id: int) -> int:
    accounts = await scope.query(AssetAccount).filter(member_id=member_id, kind="points")
    ids = [a.id for a in accounts]
    rows = await scope.query(PointsLot).filter(account_id__in=ids, status="available")
    return sum(r.remaining for r in rows)


async def put_in_debt(scope: BrandScope, member_id: int, amount: int) -> None:
    """Earn ``amount`` from a source, spend it, then reverse the source: the
    balance goes ``amount`` below where it was (the brand allows debt)."""
    ref = f"debt{next(keys)}"
    await assets.earn_points(
        scope,
        member_id,
        amount,
        idempotency_key=ref,
        reason="t",
        source_type="order",
        source_ref=ref,
    )
    await assets.redeem_points(
        scope, member_id, amount, idempotency_key=f"{ref}-r", reason="t", source_type="t"
    )
    await assets.reverse_points(
        scope, source_type="order", source_ref=ref, amount=amount, idempotency_key=f"{ref}-x"
    )
