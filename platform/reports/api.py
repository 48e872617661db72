"""What a report type works with: its parameters, the context it queries
through, and the shape of its result (docs/reports.md).

A report returns named *figures* (one number each), *series* (a number per
time bucket) and *tables* (columns with units, rows). Numbers are exact:
money is a count of minor units and averages and shares are
:class:`fractions.Fraction`, so the identities between figures (sales =
spend per buyer × buyers, ASPT = ASPU × UPT) hold exactly; they are rounded
only when shown.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from fractions import Fraction
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from tessera.db import sqlite_time
from tessera.plugin_host.context import BrandInfo

Number = int | Fraction


class Unit(StrEnum):
    """What a number counts. ``money`` is minor units of the brand's currency."""

    MONEY = "money"
    COUNT = "count"
    ITEMS = "items"
    RATIO = "ratio"
    DAYS = "days"
    POINTS = "points"
    TEXT = "text"


class Comparison(StrEnum):
    NONE = "none"
    PREVIOUS_PERIOD = "previous_period"
    YOY = "yoy"
    MOM = "mom"


class Granularity(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class Buyer(StrEnum):
    """Member vs non-member: a *member* holds a card (has joined); a
    *prospect* (non-member) was registered without joining yet."""

    ALL = "all"
    MEMBER = "member"
    NON_MEMBER = "non_member"


FILTERS = ("store", "channel", "tier", "segment", "buyer")


class ReportParams(BaseModel):
    """The parameters every report takes. ``start`` and ``end`` are days on
    the brand's calendar, both included. A report type may subclass this to
    add its own fields (its ``Params``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: date = Field(description="First day, on the brand's calendar.")
    end: date = Field(description="Last day (included), on the brand's calendar.")
    comparison: Comparison = Field(
        Comparison.NONE,
        description="none, previous_period (as long, just before), yoy (a year before), "
        "mom (a month before).",
    )
    granularity: Granularity = Field(Granularity.DAY, description="Buckets of the series.")
    store: str | None = Field(None, description="Only orders of this store code.")
    channel: str | None = Field(None, description="Only orders of this sales channel.")
    tier: str | None = Field(None, description="Only members now in this tier (code).")
    segment: str | None = Field(None, description="Only members of this segment (its name).")
    buyer: Buyer = Field(Buyer.ALL, description="all, member (joined) or non_member (prospect).")

    def days(self) -> int:
        return (self.end - self.start).days + 1

    def shifted(self, comparison: Comparison) -> ReportParams | None:
        """The same parameters over the comparison period, or None."""
        if comparison is Comparison.NONE:
            return None
        if comparison is Comparison.PREVIOUS_PERIOD:
            start = self.start - timedelta(days=self.days())
            end = self.start - timedelta(days=1)
        else:
            months = 12 if comparison is Comparison.YOY else 1
            start, end = _add_months(self.start, -months), _add_months(self.end, -months)
            if _is_month_end(self.end):
                end = _month_end(end)
        return self.model_copy(update={"start": start, "end": end})

    def cache_key(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True)


def _add_months(day: date, months: int) -> date:
    """The same day ``months`` later (earlier when negative), or that month's
    last day when it is shorter (31 March - 1 month is 28/29 February)."""
    year, month0 = divmod(day.year * 12 + day.month - 1 + months, 12)
    first = date(year, month0 + 1, 1)
    return min(first + timedelta(days=day.day - 1), _month_end(first))


def _month_end(day: date) -> date:
    following = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
    return following - timedelta(days=1)


def _is_month_end(day: date) -> bool:
    return (day + timedelta(days=1)).day == 1


@dataclass(frozen=True)
class Bucket:
    """One time bucket of a series: local days ``[first, after)`` and the UTC
    instants they span."""

    label: str
    first: date
    after: date
    start: datetime
    end: datetime


def local_midnight(day: date, timezone: str) -> datetime:
    return datetime.combine(day, time(), tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def local_day(at: datetime, timezone: str) -> date:
    return at.astimezone(ZoneInfo(timezone)).date()


@functools.lru_cache(maxsize=64)
def _offsets(timezone: str) -> tuple[tuple[datetime, int], ...]:
    """The zone's UTC offsets (seconds) from 1970 to 2100, each with the
    instant it starts at, oldest first."""
    zone = ZoneInfo(timezone)

    def offset(at: datetime) -> int:
        delta = at.astimezone(zone).utcoffset()
        return int(delta.total_seconds()) if delta is not None else 0

    at = datetime(1970, 1, 1, tzinfo=UTC)
    found = [(at, offset(at))]
    while at.year < 2100:
        step = at + timedelta(days=1)
        if offset(step) != found[-1][1]:
            low, high = at, step
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                low, high = (middle, high) if offset(middle) == found[-1][1] else (low, middle)
            found.append((high.replace(microsecond=0), offset(high)))
        at = step
    return tuple(found)


def local_day_sql(q: Query, column: str, timezone: str) -> str:
    """An SQL expression: the brand's local day of the stored instant
    ``column`` (NULL for NULL). SQLite has no timezones: the instant is
    shifted by the offset in force then, found by bisecting the zone's
    transitions (a few comparisons, not one per transition)."""
    if q.postgres:
        return f"CAST(({column} AT TIME ZONE {q(timezone)}) AS date)"
    offsets = _offsets(timezone)

    def tree(lo: int, hi: int) -> str:
        if hi - lo == 1:
            return f"date({column}, '{offsets[lo][1]:+d} seconds')"
        mid = (lo + hi) // 2
        return (
            f"(CASE WHEN {column} >= '{sqlite_time(offsets[mid][0])}' "
            f"THEN {tree(mid, hi)} ELSE {tree(lo, mid)} END)"
        )

    return tree(0, len(offsets))


def buckets(params: ReportParams, timezone: str) -> list[Bucket]:
    """The period cut into day, week (Monday first) or month buckets; the
    first and last are clipped to the period."""
    out = []
    day = params.start
    after_end = params.end + timedelta(days=1)
    while day < after_end:
        if params.granularity is Granularity.DAY:
            following = day + timedelta(days=1)
            label = day.isoformat()
        elif params.granularity is Granularity.WEEK:
            following = day - timedelta(days=day.weekday()) + timedelta(days=7)
            label = day.isoformat()
        else:
            following = _month_end(day) + timedelta(days=1)
            label = day.strftime("%Y-%m")
        following = min(following, after_end)
        out.append(
            Bucket(
                label,
                day,
                following,
                local_midnight(day, timezone),
                local_midnight(following, timezone),
            )
        )
        day = following
    return out


@dataclass(frozen=True)
class Figure:
    """One named number. ``previous`` is the same figure over the comparison
    period, computed by the same code; ``target`` a KPI set for the period."""

    key: str
    label: str
    unit: Unit
    value: Number | None
    definition: str = ""
    previous: Number | None = None
    target: Number | None = None

    @property
    def change(self) -> Fraction | None:
        """Relative change against ``previous`` (0.1 is +10%); None without one."""
        if self.value is None or self.previous is None or self.previous == 0:
            return None
        return Fraction(self.value - self.previous) / Fraction(self.previous)

    @property
    def progress(self) -> Fraction | None:
        """Share of the target reached (1 is reached)."""
        if self.value is None or self.target is None or self.target == 0:
            return None
        return Fraction(self.value) / Fraction(self.target)


@dataclass(frozen=True)
class Series:
    """A number per bucket; ``previous`` the comparison period's, bucket by
    bucket (the comparison period has as many buckets, or fewer)."""

    key: str
    label: str
    unit: Unit
    labels: Sequence[str]
    values: Sequence[Number | None]
    previous: Sequence[Number | None] | None = None
    chart: Literal["line", "bar"] = "line"


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    unit: Unit


@dataclass(frozen=True)
class Table:
    key: str
    label: str
    columns: Sequence[Column]
    rows: Sequence[Sequence[Any]]


@dataclass(frozen=True)
class ReportResult:
    figures: Sequence[Figure] = ()
    series: Sequence[Series] = ()
    tables: Sequence[Table] = ()
    notes: Sequence[str] = ()

    def figure(self, key: str) -> Figure:
        return next(f for f in self.figures if f.key == key)


def ratio(numerator: Number | None, denominator: Number | None) -> Fraction | None:
    """An exact quotient; None (shown as "—") when the denominator is 0."""
    if numerator is None or not denominator:
        return None
    return Fraction(numerator) / Fraction(denominator)


class Query:
    """One statement's parameters: ``q(value)`` binds a value and returns its
    placeholder for the connection's dialect."""

    def __init__(self, context: ReportContext) -> None:
        self._context = context
        self.postgres = context.dialect == "postgres"
        self.params: list[Any] = []

    def __call__(self, value: Any) -> str:
        if isinstance(value, datetime) and not self.postgres:
            value = sqlite_time(value)
        if isinstance(value, date) and not isinstance(value, datetime) and not self.postgres:
            value = value.isoformat()
        self.params.append(value)
        if not self.postgres:
            return f"?{len(self.params)}"
        return f"${len(self.params)}{_PG_CASTS.get(type(value), '')}"

    async def rows(self, sql: str) -> list[dict[str, Any]]:
        _, rows = await self._context.connection.execute_query(sql, self.params)
        return [dict(row) for row in rows]


_PG_CASTS = {
    bool: "::boolean",
    int: "::bigint",
    str: "::text",
    datetime: "::timestamptz",
    date: "::date",
}


def gap_ms(q: Query, later: str, earlier: str) -> str:
    """Whole milliseconds from the instant ``earlier`` to ``later``: gaps
    between orders add up exactly in integers, in the rollup and over the
    orders alike."""
    if q.postgres:
        return f"ROUND(EXTRACT(EPOCH FROM ({later} - {earlier})) * 1000)::bigint"
    return f"CAST(ROUND((julianday({later}) - julianday({earlier})) * 86400000) AS INTEGER)"


def previous_order(order: str = "o") -> str:
    """The occurred_at of the member's order before ``order`` (ties by id,
    as LAG over (occurred_at, id) orders them), NULL for their first: one
    probe of the (brand, member, occurred_at) index."""
    return (
        f"(SELECT MAX(p.occurred_at) FROM sales_order p WHERE p.brand_id = {order}.brand_id "
        f"AND p.member_id = {order}.member_id AND p.occurred_at <= {order}.occurred_at "
        f"AND (p.occurred_at < {order}.occurred_at OR p.id < {order}.id))"
    )


def dirty_rows(q: Query, table: str, at: str, alias: str) -> str:
    """The rows of ``table`` whose instant ``at`` falls on a dirty day,
    ``FROM`` ``report_dirty_day d`` and ``table`` as ``alias``. PostgreSQL
    reads each day by the table's (brand, ``at``) index (LATERAL, not
    flattened): the few dirty days would otherwise be estimated from an
    empty table's statistics and joined to a scan of all the brand's rows."""
    if q.postgres:
        return (
            f"report_dirty_day d CROSS JOIN LATERAL (SELECT * FROM {table} {alias}0 "
            f"WHERE {alias}0.brand_id = d.brand_id AND {alias}0.{at} >= d.starts_at "
            f"AND {alias}0.{at} < d.ends_at OFFSET 0) {alias}"
        )
    return (
        f"report_dirty_day d JOIN {table} {alias} ON {alias}.brand_id = d.brand_id "
        f"AND {alias}.{at} >= d.starts_at AND {alias}.{at} < d.ends_at"
    )


def dirty_orders(q: Query) -> str:
    """The orders of the dirty days, ``FROM`` ``report_dirty_day d`` and
    ``sales_order o``."""
    return dirty_rows(q, "sales_order", "occurred_at", "o")


@dataclass
class ReportContext:
    """What a report's :meth:`~tessera.ReportType.run` queries through.

    ``connection`` is the brand's database connection (``dialect`` says
    which); every statement must restrict to ``brand.id``. The helpers build
    the SQL shared by reports: the period's bounds, the parameters' filters,
    the buckets of a series.
    """

    brand: BrandInfo
    connection: Any
    money_exponent: int
    now: datetime
    segment_id: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    # The brand's daily sales rollup is built and current (docs/reports.md).
    rollups: bool = False
    # The brand's scope (set by the service) for helpers that read settings.
    scope: Any = None

    @property
    def dialect(self) -> str:
        return str(self.connection.capabilities.dialect)

    def query(self) -> Query:
        return Query(self)

    def bounds(self, params: ReportParams) -> tuple[datetime, datetime]:
        """The period as UTC instants ``[start, end)``."""
        tz = self.brand.timezone
        return local_midnight(params.start, tz), local_midnight(params.end + timedelta(days=1), tz)

    def buckets(self, params: ReportParams) -> list[Bucket]:
        return buckets(params, self.brand.timezone)

    def bucket_index(self, q: Query, params: ReportParams, column: str) -> str:
        """An SQL expression: the index of the bucket (0, 1, ...) that the
        stored instant ``column`` falls in, for rows already restricted to the
        period; group by it. PostgreSQL reads the instant in the brand's
        timezone (what ``date_trunc`` of a hand-written query does); SQLite,
        without timezones, compares it with each bucket's end."""
        if not q.postgres:
            cut = self.buckets(params)
            steps = " ".join(f"WHEN {column} < {q(b.end)} THEN {i}" for i, b in enumerate(cut[:-1]))
            return f"(CASE {steps} ELSE {len(cut) - 1} END)" if steps else "0"
        local = f"({column} AT TIME ZONE {q(self.brand.timezone)})"
        first = q(params.start)
        if params.granularity is Granularity.DAY:
            return f"(({local})::date - {first})"
        if params.granularity is Granularity.WEEK:
            return (
                f"((date_trunc('week', {local})::date - "
                f"date_trunc('week', {first}::timestamp)::date) / 7)"
            )
        return (
            f"((EXTRACT(YEAR FROM {local})::int * 12 + EXTRACT(MONTH FROM {local})::int) - "
            f"(EXTRACT(YEAR FROM {first})::int * 12 + EXTRACT(MONTH FROM {first})::int))"
        )

    def order_facts(self, q: Query, params: ReportParams) -> str:
        """A derived table of the period's orders, to select ``FROM ... o``:
        columns ``at`` (a stored instant: group by ``bucket_index`` of it),
        ``member_id``, ``store_code`` and ``channel`` ('' when none), and the
        sums ``orders``, ``sales`` (paid − refunded), ``units`` (net),
        ``paid``, ``retail``. With the rollup built it reads the rollup rows
        of clean days and the orders of dirty days, in the same statement as
        the caller's, so it always equals the orders' answer."""
        start, end = self.bounds(params)
        brand = q(self.brand.id)
        raw = (
            "SELECT o.occurred_at AS at, o.member_id AS member_id, "
            "COALESCE(o.store_code, '') AS store_code, COALESCE(o.channel, '') AS channel, "
            "1 AS orders, o.amount_paid - o.refunded_amount AS sales, "
            "o.units - o.refunded_units AS units, o.amount_paid AS paid, "
            "o.retail_amount AS retail FROM "
        )
        if not self.rollups:
            return (
                f"({raw}sales_order o WHERE o.brand_id = {brand} "
                f"AND o.occurred_at >= {q(start)} AND o.occurred_at < {q(end)})"
            )
        first, last = q(params.start), q(params.end)
        return (
            "(SELECT r.starts_at AS at, r.member_id AS member_id, r.store_code AS store_code, "
            "r.channel AS channel, r.orders AS orders, r.sales AS sales, r.units AS units, "
            f"r.paid AS paid, r.retail AS retail FROM report_sales_day r WHERE r.brand_id = "
            f"{brand} AND r.day >= {first} AND r.day <= {last} AND NOT EXISTS (SELECT 1 FROM "
            f"report_dirty_day d WHERE d.brand_id = {brand} AND d.day = r.day) "
            f"UNION ALL {raw}{dirty_orders(q)} "
            f"WHERE d.brand_id = {brand} AND d.day >= {first} AND d.day <= {last})"
        )

    def cube_ready(self, params: ReportParams) -> bool:
        """Whether the sales cube and buyer counts can answer ``params``:
        the rollup is built and no filter needs the member (tier, segment)."""
        return self.rollups and params.tier is None and self.segment_id is None

    def order_sums(self, q: Query, params: ReportParams) -> str:
        """Like :meth:`order_facts` without the member: columns ``at``,
        ``store_code``, ``channel``, ``carded`` (1 when the buyer holds a
        card now) and the sums, from the sales cube for clean days and the
        orders for dirty days, in the caller's statement. Filter it with
        :meth:`sums_filter`; only when :meth:`cube_ready`."""
        brand = q(self.brand.id)
        first, last = q(params.start), q(params.end)
        return (
            "(SELECT c.starts_at AS at, c.store_code AS store_code, c.channel AS channel, "
            "c.carded AS carded, c.orders AS orders, c.sales AS sales, c.units AS units, "
            "c.paid AS paid, c.retail AS retail FROM report_sales_cube c "
            f"WHERE c.brand_id = {brand} AND c.day >= {first} AND c.day <= {last} "
            "AND NOT EXISTS (SELECT 1 FROM report_dirty_day d WHERE d.brand_id = c.brand_id "
            "AND d.day = c.day) "
            "UNION ALL SELECT o.occurred_at, COALESCE(o.store_code, ''), COALESCE(o.channel, ''), "
            "CASE WHEN (SELECT m.card_number FROM member m WHERE m.id = o.member_id) "
            "IS NOT NULL THEN 1 ELSE 0 END, 1, "
            "o.amount_paid - o.refunded_amount, o.units - o.refunded_units, o.amount_paid, "
            f"o.retail_amount FROM {dirty_orders(q)} "
            f"WHERE d.brand_id = {brand} AND d.day >= {first} AND d.day <= {last})"
        )

    def sums_filter(self, q: Query, params: ReportParams, alias: str = "o") -> str:
        """The store, channel and buyer filters on :meth:`order_sums` rows."""
        sql = ""
        if params.store is not None:
            sql += f" AND {alias}.store_code = {q(params.store)}"
        if params.channel is not None:
            sql += f" AND {alias}.channel = {q(params.channel)}"
        if params.buyer is not Buyer.ALL:
            sql += f" AND {alias}.carded = {1 if params.buyer is Buyer.MEMBER else 0}"
        return sql

    async def period_buyers(
        self, params: ReportParams, periods: Sequence[tuple[date, date]], by: str | None = None
    ) -> list[dict[str, int]] | None:
        """Distinct buyers of each period ``(first, last)`` (local days) under
        the store, channel and buyer filters, grouped by ``by``
        (``store_code`` or ``channel``; ``""`` keys the total), read from the
        buyer counts; None unless every period is exactly a counted day,
        week, month or year with no dirty day, whose answer is then exact.
        One statement, so a rebuild cannot slip between the checks."""
        from tessera.reports.rollup import CARD, CHANNEL, STORE, period_kind

        if not self.cube_ready(params) or not periods:
            return None
        kinds = [period_kind(a, b) for a, b in periods]
        if any(k is None for k in kinds):
            return None
        dims = (
            (STORE if params.store is not None or by == "store_code" else 0)
            | (CHANNEL if params.channel is not None or by == "channel" else 0)
            | (CARD if params.buyer is not Buyer.ALL else 0)
        )
        q = self.query()
        brand = q(self.brand.id)
        wanted = " OR ".join(
            f"(b.kind = {q(k)} AND b.first_day = {q(a)})"
            for k, (a, _) in zip(kinds, periods, strict=True)
        )
        cond = ""
        if params.store is not None:
            cond += f" AND b.store_code = {q(params.store)}"
        if params.channel is not None:
            cond += f" AND b.channel = {q(params.channel)}"
        if params.buyer is not Buyer.ALL:
            cond += f" AND b.carded = {1 if params.buyer is Buyer.MEMBER else 0}"
        rows = await q.rows(
            "SELECT b.kind AS kind, b.first_day AS first_day, b.dims AS dims, "
            "b.store_code AS store_code, b.channel AS channel, b.buyers AS buyers "
            f"FROM report_buyer_count b WHERE b.brand_id = {brand} AND ({wanted}) "
            f"AND (b.dims = 0 OR (b.dims = {dims}{cond})) "
            "AND NOT EXISTS (SELECT 1 FROM report_dirty_day d WHERE d.brand_id = b.brand_id "
            "AND d.day >= b.first_day AND d.day <= b.last_day)"
        )
        complete: set[tuple[str, date]] = set()
        found: dict[tuple[str, date], dict[str, int]] = {}
        for r in rows:
            first = r["first_day"]
            if isinstance(first, str):
                first = date.fromisoformat(first)
            key = (str(r["kind"]), first)
            if int(r["dims"]) == 0:
                complete.add(key)
            if int(r["dims"]) == dims:
                group = str(r[by]) if by else ""
                found.setdefault(key, {})[group] = int(r["buyers"])
        keys = [(str(k), a) for k, (a, _) in zip(kinds, periods, strict=True)]
        if any(key not in complete for key in keys):
            return None
        return [found.get(key, {}) for key in keys]

    async def rolled_up_buyers(
        self, params: ReportParams, *, series: bool = False
    ) -> list[int] | None:
        """Distinct buyers of the period (one number) or of each bucket of its
        series, from the daily buyer rollup, for any range of days; None
        when it cannot answer ``params`` (not built, or a filter: it counts
        every store, channel and buyer)."""
        from tessera.reports import retention

        if not retention.rollup_ready(self, params):
            return None
        return await retention.buyers(self, params, series=series)

    async def rolled_up_joins(
        self, params: ReportParams
    ) -> tuple[list[dict[str, Any]], int] | None:
        """The period's new members from the daily join rollup: rows
        ``idx`` (series bucket), ``channel``, ``source``, ``joined`` and
        ``converted`` (ordered before the period's end), and the members
        who joined by its end; None when it cannot answer ``params`` (not
        built, or a tier, segment or buyer filter)."""
        from tessera.reports import growth

        if not growth.rollup_ready(self, params):
            return None
        return await growth.joins(self, params)

    async def store_channel_buyers(
        self, params: ReportParams, by: str, *, series: bool = False
    ) -> list[dict[str, int]] | None:
        """Distinct buyers of the period (a list of one) or of each bucket of
        its series by store (``by`` ``store_code``) or channel, '' for none,
        from the daily store and channel buyer rollup for its whole months
        (any end) and the member rows of its days before them; None when it
        cannot answer ``params`` (not built, a filter other than one on
        ``by``; a series needs a period starting on a month's first day and
        monthly or daily buckets)."""
        from tessera.reports import retention

        if not retention.dims_ready(self, params, by, series=series):
            return None
        return await retention.dim_buyers(self, params, by, series=series)

    async def repurchase(self, params: ReportParams) -> Any:
        """Old customers (ordered before the period), those of them who
        ordered in it, and the gaps from each order placed in it to the
        member's previous order: a ``tessera.reports.retention.Repurchase``.
        Filters: tier, segment, buyer."""
        from tessera.reports import retention

        return await retention.repurchase(self, params)

    async def cohorts(self, params: ReportParams) -> dict[int, dict[int, int]]:
        """Buyers by the calendar month (on the brand's calendar; number =
        year × 12 + month − 1) of their first purchase, when it falls in the
        period, and by months since: ``{cohort: {since: buyers}}``. Filters:
        tier, segment, buyer."""
        from tessera.reports import retention

        return await retention.cohorts(self, params)

    async def stage_flows(self, params: ReportParams) -> list[tuple[str, str, int]]:
        """Members counted by (lifecycle stage at the period's start, stage at
        its end): each stage computed from the member's orders up to that
        instant by the brand's lifecycle definition (docs/segments.md), the
        start's as of the end of the day before the period. A member who
        joined during the period comes from ``"none"``. Filters: tier,
        segment, buyer. A whole calendar month or year without them reads
        the stored flows while valid (``tessera.reports.flows``)."""
        from tessera.reports import flows

        return await flows.stage_flows(self, params)

    async def campaign_results(
        self, params: ReportParams, margin: Fraction | None = None
    ) -> list[Any]:
        """The attribution (docs/campaign-attribution.md) of each campaign
        launched in the period, oldest first: a list of
        ``tessera.campaigns.attribution.CampaignResults``, each over its own
        attribution window, computed in one statement whatever their number.
        ``margin`` None is the brand's gross margin."""
        from tessera.campaigns.attribution import launched_between, results_of

        start, end = self.bounds(params)
        campaigns = await launched_between(self.scope, start, end)
        return await results_of(self.scope, campaigns, margin=margin)

    def member_filter(self, q: Query, params: ReportParams, member: str) -> str:
        """SQL conditions (`` AND ...``) on the member column ``member`` for the
        tier, segment and buyer filters."""
        sql = ""
        if params.tier is not None:
            sql += (
                f" AND EXISTS (SELECT 1 FROM member_tier_state ts JOIN tier_definition td "
                f"ON td.id = ts.tier_id WHERE ts.brand_id = {q(self.brand.id)} "
                f"AND ts.member_id = {member} AND td.code = {q(params.tier)})"
            )
        if self.segment_id is not None:
            sql += (
                f" AND EXISTS (SELECT 1 FROM segment_membership sm WHERE sm.brand_id = "
                f"{q(self.brand.id)} AND sm.segment_id = {q(self.segment_id)} "
                f"AND sm.member_id = {member})"
            )
        if params.buyer is not Buyer.ALL:
            test = "IS NOT NULL" if params.buyer is Buyer.MEMBER else "IS NULL"
            sql += (
                f" AND EXISTS (SELECT 1 FROM member mf WHERE mf.id = {member} "
                f"AND mf.brand_id = {q(self.brand.id)} AND mf.card_number {test})"
            )
        return sql

    def order_filter(self, q: Query, params: ReportParams, order: str = "o") -> str:
        """SQL conditions (`` AND ...``) on orders aliased ``order`` for every filter."""
        sql = ""
        if params.store is not None:
            sql += f" AND {order}.store_code = {q(params.store)}"
        if params.channel is not None:
            sql += f" AND {order}.channel = {q(params.channel)}"
        return sql + self.member_filter(q, params, f"{order}.member_id")


def scope_query(scope: Any, connection: Any = None) -> Query:
    """A :class:`Query` on ``connection`` (the default one if None) for SQL
    that Tessera's own jobs run for the brand of ``scope`` outside a report."""
    from tortoise import connections

    brand = scope.brand
    context = ReportContext(
        brand=BrandInfo(brand.id, brand.code, brand.name, brand.currency, brand.timezone),
        connection=connection or connections.get("default"),
        money_exponent=0,
        now=datetime.now(UTC),
    )
    return context.query()
