"""A member's timeline: what they did (behaviour events, orders) and what
happened to them (ledger entries, tier changes, tags put on, coupons issued,
messages sent or held back),
newest first.

Bounded: each source is read newest first up to ``limit`` rows, one query
each, and the merge keeps the ``limit`` newest, so a long history costs the
same as a short one. Only rows the domain keeps are shown: a tag taken off
leaves no row (tag assignments are deleted), so the timeline shows the tags
put on that are still there."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tessera.assets.models import LedgerEntry
from tessera.behaviour.models import BehaviourEvent
from tessera.channels.models import Message
from tessera.coupons.models import Coupon
from tessera.orders.models import Order
from tessera.scope import BrandScope
from tessera.tags.models import TagAssignment
from tessera.tiers.models import TierHistory

TIMELINE_LIMIT = 50
# Ties (one write's rows share a time) are broken by source, then by id, so
# the order is the same on every database.
_RANK = {"event": 0, "order": 1, "ledger": 2, "coupon": 3, "tier": 4, "tag": 5, "message": 6}


@dataclass(frozen=True)
class TimelineItem:
    """One line: ``kind`` names the source (the template shows each its way),
    ``row`` is the model it came from."""

    at: datetime
    kind: str
    row: Any = field(compare=False)

    @property
    def sort_key(self) -> tuple[datetime, int, int]:
        return (self.at, _RANK[self.kind], int(self.row.id))


async def timeline(
    scope: BrandScope,
    member_id: int,
    limit: int = TIMELINE_LIMIT,
    *,
    orders: list[Order] | None = None,
) -> list[TimelineItem]:
    """The ``limit`` newest things that happened to one member, newest first.
    ``orders``: the member's newest orders (at least ``limit``, or all), when
    the caller read them already."""
    items: list[TimelineItem] = []
    mine = {"member_id": member_id}
    for event in (
        await scope.query(BehaviourEvent)
        .filter(**mine)
        .order_by("-occurred_at", "-id")
        .limit(limit)
    ):
        items.append(TimelineItem(event.occurred_at, "event", event))
    if orders is None:
        orders = list(
            await scope.query(Order).filter(**mine).order_by("-occurred_at", "-id").limit(limit)
        )
    for order in orders:
        items.append(TimelineItem(order.occurred_at, "order", order))
    for entry in (
        await scope.query(LedgerEntry).filter(**mine).order_by("-occurred_at", "-id").limit(limit)
    ):
        items.append(TimelineItem(entry.occurred_at, "ledger", entry))
    for coupon in (
        await scope.query(Coupon)
        .filter(**mine)
        .select_related("template")
        .order_by("-issued_at", "-id")
        .limit(limit)
    ):
        items.append(TimelineItem(coupon.issued_at, "coupon", coupon))
    for change in (
        await scope.query(TierHistory)
        .filter(**mine)
        .select_related("from_tier", "to_tier")
        .order_by("-at", "-id")
        .limit(limit)
    ):
        items.append(TimelineItem(change.at, "tier", change))
    for assignment in (
        await scope.query(TagAssignment)
        .filter(**mine)
        .select_related("tag")
        .order_by("-created_at", "-id")
        .limit(limit)
    ):
        items.append(TimelineItem(assignment.created_at, "tag", assignment))
    for message in (
        await scope.query(Message).filter(**mine).order_by("-created_at", "-id").limit(limit)
    ):
        items.append(TimelineItem(message.created_at, "message", message))
    items.sort(key=lambda item: item.sort_key, reverse=True)
    return items[:limit]
