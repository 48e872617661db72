"""The facts tier policies and points rules are asked about, built from the
database (reads only)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.expressions import F
from tortoise.functions import Sum

from tessera.assets.models import LedgerEntry
from tessera.members.models import Member
from tessera.orders.inputs import CleanOrder
from tessera.orders.models import Order
from tessera.orders.money import exponent
from tessera.plugin_host.components import MemberFacts, OrderFacts, OrderLineFacts
from tessera.plugin_host.context import BrandInfo
from tessera.scope import BrandScope
from tessera.tags.models import TagAssignment
from tessera.tiers.models import MemberTierState
from tessera.tiers.service import tier_info


def brand_info(scope: BrandScope) -> BrandInfo:
    b = scope.brand
    return BrandInfo(b.id, b.code, b.name, b.currency, b.timezone)


def money_exponent(scope: BrandScope) -> int:
    return exponent(scope.brand.currency)


def order_facts(clean: CleanOrder, order_id: int | None = None) -> OrderFacts:
    return OrderFacts(
        external_id=clean.external_id,
        occurred_at=clean.occurred_at,
        amount_paid=clean.amount_paid,
        lines=tuple(
            OrderLineFacts(line.sku, line.category, line.quantity, line.paid_amount)
            for line in clean.lines
        ),
        order_id=order_id,
    )


async def member_facts(
    scope: BrandScope, member: Member, now: datetime, state: MemberTierState | None = None
) -> MemberFacts:
    """``member`` as rules see it at ``now``: live tags, the tier held."""
    if state is None:
        state = (
            await scope.query(MemberTierState)
            .filter(member_id=member.id)
            .select_related("tier", "lapsed_tier")
            .first()
        )
    codes = (
        await scope.query(TagAssignment)
        .filter(member_id=member.id)
        .exclude(expires_at__lte=now)
        .values_list("tag__code", flat=True)
    )
    tier = state.tier if state is not None else None
    return MemberFacts(
        id=member.id,
        joined_at=member.joined_at,
        birthday=member.birthday,
        tags=frozenset(str(c) for c in codes),
        tier=tier_info(tier),
        tier_since=state.since if state is not None and tier is not None else None,
        tier_expires_at=state.expires_at if state is not None else None,
        lapsed_tier=state.lapsed_tier.code if state is not None and state.lapsed_tier else None,
    )


async def net_spent(
    scope: BrandScope,
    member_id: int,
    since: datetime,
    until: datetime,
    *,
    leave_out: str | None = None,
) -> int:
    """Paid minus refunded on the member's orders placed in ``[since, until]``,
    leaving out the order with external id ``leave_out`` (the one being
    recorded or previewed, which the caller counts itself)."""
    query = scope.query(Order).filter(
        member_id=member_id, occurred_at__gte=since, occurred_at__lte=until
    )
    if leave_out is not None:
        query = query.exclude(external_id=leave_out)
    rows: Any = (
        await query.annotate(net=Sum(F("amount_paid") - F("refunded_amount")))
        .group_by("member_id")
        .values_list("net", flat=True)
    )
    return int(rows[0] or 0) if rows else 0


async def net_growth(scope: BrandScope, member_id: int, since: datetime, until: datetime) -> int:
    """Growth value the member earned (less reversals) in ``[since, until]``."""
    rows: Any = (
        await scope.query(LedgerEntry)
        .filter(
            member_id=member_id,
            kind="growth",
            occurred_at__gte=since,
            occurred_at__lte=until,
        )
        .annotate(net=Sum("amount"))
        .group_by("member_id")
        .values_list("net", flat=True)
    )
    return int(rows[0] or 0) if rows else 0
