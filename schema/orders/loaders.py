"""Per-request dataloaders of the orders domain (one query per kind per page)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial

from strawberry.dataloader import DataLoader
from strawberry.types import Info

from tessera.checkout.outcome import OrderOutcome, order_outcomes
from tessera.orders.models import OrderLine
from tessera.orders.stats import StatsView, stats_for_members
from tessera.scope import BrandScope


def stats_loader(info: Info) -> DataLoader[int, StatsView]:
    """``StatsByMemberLoader``: a member's statistics, zeros without orders."""
    scope = info.context.scope
    return info.context.loader(
        "StatsByMember", lambda: DataLoader(partial(_stats, scope, datetime.now(UTC)))
    )


def lines_loader(info: Info) -> DataLoader[int, list[OrderLine]]:
    """``LinesByOrderLoader``: an order's lines in recorded order."""
    scope = info.context.scope
    return info.context.loader("LinesByOrder", lambda: DataLoader(partial(_lines, scope)))


def outcome_loader(info: Info) -> DataLoader[int, OrderOutcome]:
    """``OutcomeByOrderLoader``: what an order did (a few queries per page)."""
    scope = info.context.scope
    return info.context.loader("OutcomeByOrder", lambda: DataLoader(partial(_outcomes, scope)))


async def _outcomes(scope: BrandScope, order_ids: Sequence[int]) -> list[OrderOutcome]:
    found = await order_outcomes(scope, list(order_ids))
    return [found[o] for o in order_ids]


async def _stats(scope: BrandScope, now: datetime, member_ids: Sequence[int]) -> list[StatsView]:
    found = await stats_for_members(scope, list(member_ids), now)
    return [found.get(m, StatsView()) for m in member_ids]


async def _lines(scope: BrandScope, order_ids: Sequence[int]) -> list[list[OrderLine]]:
    by_order: dict[int, list[OrderLine]] = defaultdict(list)
    for line in (
        await scope.query(OrderLine)
        .filter(order_id__in=list(order_ids))
        .order_by("order_id", "line_no")
    ):
        by_order[line.order_id].append(line)
    return [by_order.get(o, []) for o in order_ids]
