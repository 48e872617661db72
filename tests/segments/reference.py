"""A plain-Python evaluator of segment rules, written from docs/segments.md
without looking at the SQL, for the property test to compare the compiler
with. It works on in-memory rows and reads time the way an operator does:
the local calendar date of each instant in the brand's timezone.

It reads the raw JSON rule itself (camelCase keys, the documented defaults,
its own names for the member fields) and never the parser's model, so a
parser that misreads a key or a default disagrees with it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo


@dataclass
class MemberRow:
    id: int
    gender: str
    status: str
    join_channel: str
    province: str
    city: str
    birthday: date | None
    joined_at: datetime
    attributes: dict[str, Any]


@dataclass
class LineRow:
    sku: str
    category: str | None
    paid_amount: int
    refunded_amount: int


@dataclass
class OrderRow:
    member_id: int
    occurred_at: datetime
    amount_paid: int
    refunded_amount: int
    lines: list[LineRow]


@dataclass
class EventRow:
    member_id: int
    type: str
    occurred_at: datetime


@dataclass
class AssignmentRow:
    member_id: int
    code: str
    created_at: datetime
    expires_at: datetime | None


@dataclass
class LifecycleRow:
    stage: str
    recency: int | None
    frequency: int | None
    monetary: int | None


@dataclass
class World:
    timezone: str
    exponent: int
    members: list[MemberRow] = field(default_factory=list)
    orders: list[OrderRow] = field(default_factory=list)
    events: list[EventRow] = field(default_factory=list)
    tag_codes: list[str] = field(default_factory=list)
    assignments: list[AssignmentRow] = field(default_factory=list)
    lifecycle: dict[int, LifecycleRow] = field(default_factory=dict)
    segments: dict[int, set[int]] = field(default_factory=dict)
    tiers: dict[str, int] = field(default_factory=dict)  # code -> rank
    member_tiers: dict[int, str] = field(default_factory=dict)
    points: dict[int, int] = field(default_factory=dict)
    coupons: list[tuple[int, str, datetime]] = field(default_factory=list)  # member, status, expiry

    def stats(self, member_id: int) -> tuple[int, int, datetime | None, datetime | None]:
        """Orders count, total spent, first and last order time (as member_stats)."""
        mine = [o for o in self.orders if o.member_id == member_id]
        if not mine:
            return 0, 0, None, None
        total = sum(o.amount_paid - o.refunded_amount for o in mine)
        times = [o.occurred_at for o in mine]
        return len(mine), total, min(times), max(times)


Rule = dict[str, Any]

# The documented profile fields, as this module's member rows name them.
PROFILE_FIELDS = {
    "gender": "gender",
    "status": "status",
    "joinChannel": "join_channel",
    "province": "province",
    "city": "city",
}


def evaluate(rule: Rule, world: World, now: datetime) -> set[int]:
    return {m.id for m in world.members if _holds(rule, m, world, now)}


def _local(instant: datetime, world: World) -> date:
    return instant.astimezone(ZoneInfo(world.timezone)).date()


def _in_window(instant: datetime, window: Rule | None, world: World, now: datetime) -> bool:
    if window is None:
        return True
    day, today = _local(instant, world), _local(now, world)
    if "lastDays" in window:
        return (today - day).days < window["lastDays"]
    if "olderThanDays" in window:
        return (today - day).days >= window["olderThanDays"]
    if "period" in window:
        return _in_period(day, today, window["period"])
    start, end = window.get("from"), window.get("to")
    return (start is None or day >= date.fromisoformat(start)) and (
        end is None or day <= date.fromisoformat(end)
    )


def _in_period(day: date, today: date, period: str) -> bool:
    if period == "today":
        return day == today
    if period == "yesterday":
        return day == today - timedelta(days=1)
    if period in ("this_week", "last_week"):
        weeks = (
            day - timedelta(days=day.weekday()) - (today - timedelta(days=today.weekday()))
        ).days
        return weeks == (0 if period == "this_week" else -7)
    if period in ("this_month", "last_month"):
        months = (day.year - today.year) * 12 + day.month - today.month
        return months == (0 if period == "this_month" else -1)
    if period in ("this_year", "last_year"):
        return day.year - today.year == (0 if period == "this_year" else -1)
    raise AssertionError(f"no such period {period!r}")


def _range(value: Any, bounds: Rule | None) -> bool:
    """Inside ``{"min": .., "max": ..}`` (both ends included; either may be left out)."""
    bounds = bounds or {}
    low, high = bounds.get("min"), bounds.get("max")
    return (low is None or value >= low) and (high is None or value <= high)


def _minor(bounds: Rule | None, world: World) -> Rule:
    """Money bounds (decimals, as strings or numbers) in minor units."""
    return {
        name: Decimal(str(amount)) * 10**world.exponent
        for name, amount in (bounds or {}).items()
        if name in ("min", "max")
    }


def _celebrated(birthday: date, year: int) -> date:
    if birthday.month == 2 and birthday.day == 29:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return date(year, 2, 29) if leap else date(year, 3, 1)
    return birthday.replace(year=year)


def _age(birthday: date, today: date) -> int:
    return today.year - birthday.year - ((today.month, today.day) < (birthday.month, birthday.day))


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    return "number" if isinstance(value, int | float) else "text"


def _at_least_once(node: Rule) -> Rule:
    return node.get("count") or {"min": 1}


def _holds(node: Rule, m: MemberRow, w: World, now: datetime) -> bool:
    today = _local(now, w)
    if "all" in node:
        return all(_holds(c, m, w, now) for c in node["all"])
    if "any" in node:
        return any(_holds(c, m, w, now) for c in node["any"])
    if "not" in node:
        return not _holds(node["not"], m, w, now)
    kind = node["type"]
    if kind == "profile":
        return getattr(m, PROFILE_FIELDS[node["field"]]) in node["in"]
    if kind == "birthday":
        if m.birthday is None:
            return False
        if "nextDays" in node:
            end = today + timedelta(days=node["nextDays"])
            return any(
                today <= _celebrated(m.birthday, year) <= end
                for year in (today.year, today.year + 1)
            )
        months = [today.month] if node.get("thisMonth") else node["months"]
        return m.birthday.month in months
    if kind == "age":
        return m.birthday is not None and _range(_age(m.birthday, today), node)
    if kind == "joined":
        return _in_window(m.joined_at, node["within"], w, now)
    if kind == "attribute":
        return _attribute(node, m.attributes.get(node["key"]))
    if kind == "tags":
        held = {
            a.code
            for a in w.assignments
            if a.member_id == m.id
            and (a.expires_at is None or a.expires_at > now)
            and _in_window(a.created_at, node.get("assignedWithin"), w, now)
        }
        some = [code in held for code in node["codes"]]
        return {"all": all(some), "any": any(some), "none": not any(some)}[node["has"]]
    if kind == "stats":
        return _stats(node, m, w, now)
    if kind in ("firstOrder", "lastOrder"):
        _, _, first, last = w.stats(m.id)
        at = first if kind == "firstOrder" else last
        return at is not None and _in_window(at, node["within"], w, now)
    if kind == "orders":
        return _orders(node, m, w, now)
    if kind == "events":
        n = sum(
            1
            for e in w.events
            if e.member_id == m.id
            and e.type == node["event"]
            and _in_window(e.occurred_at, node.get("within"), w, now)
        )
        return _range(n, _at_least_once(node))
    if kind == "lifecycle":
        row = w.lifecycle.get(m.id)
        return row is not None and row.stage in node["in"]
    if kind == "rfm":
        row = w.lifecycle.get(m.id)
        if row is None:
            return False
        for name in ("recency", "frequency", "monetary"):
            score = getattr(row, name)
            if name in node and (score is None or not _range(score, node[name])):
                return False
        return True
    if kind == "segment":
        return m.id in w.segments.get(int(node["segment"]), set())
    if kind == "tier":
        tier = w.member_tiers.get(m.id)
        if tier is None:
            return False
        if "in" in node:
            return tier in node["in"]
        floor = w.tiers.get(node["atLeast"])
        return floor is not None and w.tiers[tier] >= floor
    if kind == "points":
        return _range(w.points.get(m.id, 0), node)
    if kind == "coupons":
        n = sum(
            1
            for who, status, ends in w.coupons
            if who == m.id and status == "available" and ends > now
        )
        return _range(n, _at_least_once(node))
    raise AssertionError(f"no reference for {node!r}")


def _attribute(node: Rule, value: Any) -> bool:
    # A value of another type than the rule's (the text "3" for the number 3)
    # never matches; neither does a missing one.
    wanted = node.get("equals", (node.get("in") or [None])[0])
    if wanted is None:
        wanted = node.get("min", node.get("max"))
    if value is None or _kind(value) != _kind(wanted):
        return False
    if "equals" in node:
        return bool(value == node["equals"])
    if "in" in node:
        return value in node["in"]
    return _range(value, node)


def _stats(node: Rule, m: MemberRow, w: World, now: datetime) -> bool:
    count, total, _, _ = w.stats(m.id)
    metric = node["metric"]
    if metric == "ordersCount":
        return _range(count, node)
    bounds = _minor(node, w)
    if metric == "totalSpent":
        return _range(total, bounds)
    if metric == "spentLast365Days":
        since = now - timedelta(days=365)
        recent = sum(
            o.amount_paid - o.refunded_amount
            for o in w.orders
            if o.member_id == m.id and o.occurred_at >= since
        )
        return _range(recent, bounds)
    if metric == "averageOrderValue":
        average = Fraction(total, count) if count else Fraction(0)
        return _range(average, {k: Fraction(v) for k, v in bounds.items()})
    raise AssertionError(f"no such metric {metric!r}")


def _orders(node: Rule, m: MemberRow, w: World, now: datetime) -> bool:
    skus, categories = node.get("skus"), node.get("categories")
    filtered = skus is not None or categories is not None

    def matches(line: LineRow) -> bool:
        return line.sku in (skus or []) or line.category in (categories or [])

    mine = [
        o
        for o in w.orders
        if o.member_id == m.id and _in_window(o.occurred_at, node.get("within"), w, now)
    ]
    counted = [o for o in mine if not filtered or any(matches(x) for x in o.lines)]
    if filtered:
        spent = sum(x.paid_amount - x.refunded_amount for o in mine for x in o.lines if matches(x))
    else:
        spent = sum(o.amount_paid - o.refunded_amount for o in mine)
    # With neither count nor amount: at least one order.
    count = node.get("count") or (None if "amount" in node else {"min": 1})
    if count is not None and not _range(len(counted), count):
        return False
    if "amount" in node:
        return _range(spent, _minor(node["amount"], w))
    return True
