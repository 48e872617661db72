"""A plain-Python evaluator of segment rules, written from docs/segments.md
without looking at the SQL, for the property test to compare the compiler
with. It works on in-memory rows and reads time the way an operator does:
the local calendar date of each instant in the brand's timezone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from tessera.segments import rules as r


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


def evaluate(rule: r.Rule, world: World, now: datetime) -> set[int]:
    return {m.id for m in world.members if _holds(rule.root, m, world, now)}


def _local(instant: datetime, world: World) -> date:
    return instant.astimezone(ZoneInfo(world.timezone)).date()


def _in_window(instant: datetime, window: r.Window | None, world: World, now: datetime) -> bool:
    if window is None:
        return True
    day, today = _local(instant, world), _local(now, world)
    if window.last_days is not None:
        return (today - day).days < window.last_days
    if window.older_than_days is not None:
        return (today - day).days >= window.older_than_days
    if window.period is not None:
        return _in_period(day, today, window.period)
    return (window.from_ is None or day >= window.from_) and (window.to is None or day <= window.to)


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
    return day.year - today.year == (0 if period == "this_year" else -1)


def _range(value: Any, low: Any, high: Any) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


def _minor(amount: Decimal | None, world: World) -> int | None:
    return None if amount is None else int(amount * 10**world.exponent)


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


def _holds(node: Any, m: MemberRow, w: World, now: datetime) -> bool:
    today = _local(now, w)
    if isinstance(node, r.All):
        return all(_holds(c, m, w, now) for c in node.all)
    if isinstance(node, r.Any_):
        return any(_holds(c, m, w, now) for c in node.any)
    if isinstance(node, r.Not):
        return not _holds(node.not_, m, w, now)
    if isinstance(node, r.ProfileCondition):
        return getattr(m, node.field.column) in node.in_
    if isinstance(node, r.BirthdayCondition):
        if m.birthday is None:
            return False
        if node.next_days is None:
            return m.birthday.month in (node.months or [today.month])
        end = today + timedelta(days=node.next_days)
        return any(
            today <= _celebrated(m.birthday, year) <= end for year in (today.year, today.year + 1)
        )
    if isinstance(node, r.AgeCondition):
        return m.birthday is not None and _range(_age(m.birthday, today), node.min, node.max)
    if isinstance(node, r.JoinedCondition):
        return _in_window(m.joined_at, node.within, w, now)
    if isinstance(node, r.AttributeCondition):
        value = m.attributes.get(node.key)
        if value is None or _kind(value) != node.value_kind:
            return False
        if node.equals is not None:
            return bool(value == node.equals)
        if node.in_ is not None:
            return value in node.in_
        return _range(value, node.min, node.max)
    if isinstance(node, r.TagsCondition):
        held = {
            a.code
            for a in w.assignments
            if a.member_id == m.id
            and (a.expires_at is None or a.expires_at > now)
            and _in_window(a.created_at, node.assigned_within, w, now)
        }
        if node.has is r.TagMatch.ALL:
            return all(c in held for c in node.codes)
        some = any(c in held for c in node.codes)
        return some if node.has is r.TagMatch.ANY else not some
    if isinstance(node, r.StatsCondition):
        count, total, _, _ = w.stats(m.id)
        low, high = node.min, node.max
        if node.metric is r.Metric.ORDERS_COUNT:
            return _range(count, low, high)
        low_minor, high_minor = _minor(low, w), _minor(high, w)
        if node.metric is r.Metric.TOTAL_SPENT:
            return _range(total, low_minor, high_minor)
        if node.metric is r.Metric.SPENT_LAST_365_DAYS:
            since = now - timedelta(days=365)
            recent = sum(
                o.amount_paid - o.refunded_amount
                for o in w.orders
                if o.member_id == m.id and o.occurred_at >= since
            )
            return _range(recent, low_minor, high_minor)
        average = Fraction(total, count) if count else Fraction(0)
        return _range(average, low_minor, high_minor)
    if isinstance(node, r.FirstOrderCondition | r.LastOrderCondition):
        _, _, first, last = w.stats(m.id)
        at = first if isinstance(node, r.FirstOrderCondition) else last
        return at is not None and _in_window(at, node.within, w, now)
    if isinstance(node, r.OrdersCondition):
        return _orders(node, m, w, now)
    if isinstance(node, r.EventsCondition):
        n = sum(
            1
            for e in w.events
            if e.member_id == m.id
            and e.type == node.event
            and _in_window(e.occurred_at, node.within, w, now)
        )
        count = node.count or r.CountRange(min=1)
        return _range(n, count.min, count.max)
    if isinstance(node, r.LifecycleCondition):
        row = w.lifecycle.get(m.id)
        return row is not None and row.stage in node.in_
    if isinstance(node, r.RfmCondition):
        row = w.lifecycle.get(m.id)
        if row is None:
            return False
        for name in ("recency", "frequency", "monetary"):
            wanted = getattr(node, name)
            score = getattr(row, name)
            if wanted is not None and (score is None or not _range(score, wanted.min, wanted.max)):
                return False
        return True
    if isinstance(node, r.SegmentCondition):
        return m.id in w.segments.get(node.segment, set())
    if isinstance(node, r.TierCondition):
        tier = w.member_tiers.get(m.id)
        if tier is None:
            return False
        if node.in_ is not None:
            return tier in node.in_
        floor = w.tiers.get(node.at_least or "")
        return floor is not None and w.tiers[tier] >= floor
    if isinstance(node, r.PointsCondition):
        return _range(w.points.get(m.id, 0), node.min, node.max)
    if isinstance(node, r.CouponsCondition):
        n = sum(
            1
            for who, status, ends in w.coupons
            if who == m.id and status == "available" and ends > now
        )
        count = node.count or r.CountRange(min=1)
        return _range(n, count.min, count.max)
    raise AssertionError(f"no reference for {node!r}")


def _orders(node: r.OrdersCondition, m: MemberRow, w: World, now: datetime) -> bool:
    filtered = node.skus is not None or node.categories is not None

    def matches(line: LineRow) -> bool:
        return line.sku in (node.skus or []) or line.category in (node.categories or [])

    mine = [
        o
        for o in w.orders
        if o.member_id == m.id and _in_window(o.occurred_at, node.within, w, now)
    ]
    counted = [o for o in mine if not filtered or any(matches(x) for x in o.lines)]
    if filtered:
        spent = sum(x.paid_amount - x.refunded_amount for o in mine for x in o.lines if matches(x))
    else:
        spent = sum(o.amount_paid - o.refunded_amount for o in mine)
    count = node.count or (None if node.amount else r.CountRange(min=1))
    if count is not None and not _range(len(counted), count.min, count.max):
        return False
    if node.amount is not None:
        return _range(spent, _minor(node.amount.min, w), _minor(node.amount.max, w))
    return True
