"""Segment rules compiled to one SQL statement (pypika), for SQLite and
PostgreSQL with the same meaning.

The statement is ``SELECT "m"."id" FROM "member" "m" [LEFT JOIN "member_stats"
"ms" ...] WHERE "m"."brand_id" = <param> AND <condition>``. Rules of thumb it
follows, so both databases agree and the planner can use brand-leading indexes:

- Every value is a parameter; only column and table names are in the text.
- Every condition yields TRUE or FALSE, never NULL (a missing birthday,
  attribute or stats row makes the condition false), so ``not`` is exact.
- Times are compared as UTC instants computed in Python in the brand's
  timezone (:mod:`tessera.segments.timewindows`); there is no date arithmetic
  in SQL. Money is integer minor units; no division happens in SQL.
- Facts about other tables are ``IN (SELECT member_id ...)`` or correlated
  ``EXISTS`` / ``COUNT`` sub-queries that start with ``brand_id`` and the
  member id, which the indexes of those tables lead with.
"""

from __future__ import annotations

from calendar import isleap
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from pypika_tortoise import Table
from pypika_tortoise.enums import Order
from pypika_tortoise.queries import QueryBuilder
from pypika_tortoise.terms import Criterion, Parameterizer, Term, ValueWrapper
from tortoise import connections

from tessera.errors import DomainError, DomainErrors
from tessera.members.models import Member
from tessera.orders.money import MoneyAmount, to_minor
from tessera.orders.stats import RECENT_WINDOW
from tessera.scope import BrandScope
from tessera.segments import rules as r
from tessera.segments.timewindows import local_today, years_before

MEMBER = Table("member", alias="m")

SegmentReader = Callable[[BrandScope, int, Any], QueryBuilder]
"""``reader(scope, segment_id, query_class)``: a query selecting ``member_id``
of the members of that segment, read by "member of segment" conditions."""


def stored_membership(scope: BrandScope, segment_id: int, query_class: Any) -> QueryBuilder:
    """The segment's members as stored at its last refresh."""
    sm = Table("segment_membership", alias="sm")
    return (
        query_class.from_(sm)
        .select(sm.member_id)
        .where((sm.brand_id == scope.brand_id) & (sm.segment_id == segment_id))
    )


class Sql(Criterion):
    """A piece of SQL whose ``{}`` holes are filled with terms or parameters.
    Used where the two dialects differ and for correlated sub-queries."""

    def __init__(self, template: str, *args: Any) -> None:
        super().__init__()
        self.template = template
        self.args = [a if isinstance(a, Term) else ValueWrapper(a) for a in args]

    def get_sql(self, ctx: Any) -> str:
        inner = ctx.copy(with_namespace=True, subquery=True)
        return self.template.format(*(arg.get_sql(inner) for arg in self.args))


def all_of(parts: Sequence[Term]) -> Term:
    return (
        parts[0] if len(parts) == 1 else Sql("(" + " AND ".join(["{}"] * len(parts)) + ")", *parts)
    )


def any_of(parts: Sequence[Term]) -> Term:
    return (
        parts[0] if len(parts) == 1 else Sql("(" + " OR ".join(["{}"] * len(parts)) + ")", *parts)
    )


TRUE = Sql("1 = 1")
ONE = Sql("1")
FALSE = Sql("1 = 0")


class _EveryValue(Parameterizer):
    # pypika inlines the string "*" by default; here every value is a parameter.
    def should_parameterize(self, value: Any) -> bool:
        return True


def to_sql(query: QueryBuilder) -> tuple[str, list[Any]]:
    ctx = query.QUERY_CLS.SQL_CONTEXT.copy(parameterizer=_EveryValue())
    sql, params = query.get_parameterized_sql(ctx)
    return sql, list(params)


class _Compiler:
    def __init__(
        self,
        scope: BrandScope,
        now: datetime,
        dialect: str,
        query_class: Any,
        segment_reader: SegmentReader,
        as_of: bool = False,
    ) -> None:
        self.scope = scope
        self.brand_id = scope.brand_id
        self.now = now
        # As of a past date, facts recorded after ``now`` have not happened yet.
        self.as_of = as_of
        self.timezone = scope.brand.timezone
        self.today = local_today(now, self.timezone)
        self.postgres = dialect == "postgres"
        self.query_class = query_class
        self.reader = segment_reader
        self.errors: list[DomainError] = []
        self.member = MEMBER
        self.stats = Table("member_stats", alias="ms")
        self.uses_stats = False

    # -- shared pieces -------------------------------------------------------

    def col(self, name: str) -> Term:
        return self.member.field(name)

    def stat(self, name: str) -> Term:
        self.uses_stats = True
        return self.stats.field(name)

    def in_window(self, column: Term, window: r.Window | None) -> list[Term]:
        if window is None:
            return []
        bounds = window.bounds(self.now, self.timezone)
        parts: list[Term] = []
        if bounds.start is not None:
            parts.append(column >= bounds.start)
        if bounds.end is not None:
            parts.append(column < bounds.end)
        if self.as_of and (bounds.end is None or bounds.end > self.now):
            parts.append(column <= self.now)
        return parts

    def between(self, value: Term, low: Any, high: Any) -> Term:
        if low is not None and high is not None:
            return Sql("{} BETWEEN {} AND {}", value, low, high)
        parts: list[Term] = []
        if low is not None:
            parts.append(value >= low)
        if high is not None:
            parts.append(value <= high)
        return all_of(parts) if parts else TRUE

    def minor(self, amount: Decimal | None, path: list[str]) -> int | None:
        if amount is None:
            return None
        try:
            money = MoneyAmount(amount, self.scope.brand.currency)
            return to_minor(money, self.scope.brand.currency, path[:-1])
        except DomainError as error:
            self.errors.append(
                DomainError(
                    error.code,
                    f"{path[-1]} has more decimals than {self.scope.brand.currency} allows",
                    path,
                )
                if error.code == "INVALID_AMOUNT"
                else error
            )
            return 0

    def members_in(self, query: QueryBuilder) -> Term:
        return Sql("{} IN {}", self.col("id"), query)

    def count_in(self, query: QueryBuilder, count: r.CountRange) -> Term:
        """Sub-query rows of the member, counted against ``count`` (EXISTS where
        the range only asks for "some" or "none", which planners do best)."""
        low, high = count.min, count.max
        if (low or 0) <= 0 and high is None:
            return TRUE
        if low == 1 and high is None:
            return Sql("EXISTS {}", query.select(ONE))
        if (low or 0) <= 0 and high == 0:
            return Sql("NOT EXISTS {}", query.select(ONE))
        return self.between(Sql("{}", query.select(Sql("COUNT(*)"))), low, high)

    # -- conditions ----------------------------------------------------------

    def condition(self, node: Any, path: list[str]) -> Term:
        if isinstance(node, r.All):
            return all_of(
                [self.condition(c, [*path, "all", str(i)]) for i, c in enumerate(node.all)]
            )
        if isinstance(node, r.Any_):
            return any_of(
                [self.condition(c, [*path, "any", str(i)]) for i, c in enumerate(node.any)]
            )
        if isinstance(node, r.Not):
            return Sql("NOT {}", Sql("({})", self.condition(node.not_, [*path, "not"])))
        method: Callable[[Any, list[str]], Term] = getattr(self, "c_" + node.type)
        return method(node, path)

    def c_profile(self, node: r.ProfileCondition, path: list[str]) -> Term:
        return self.col(node.field.column).isin(list(node.in_))

    def _birthday_text(self, pattern: str) -> Term:
        # ISO dates: SQLite stores the text, PostgreSQL formats the date.
        if self.postgres:
            return Sql("to_char({}, '" + pattern + "')", self.col("birthday"))
        start, length = (6, 2) if pattern == "MM" else (6, 5)
        return Sql(f"substr({{}}, {start}, {length})", self.col("birthday"))

    def c_birthday(self, node: r.BirthdayCondition, path: list[str]) -> Term:
        has = self.col("birthday").notnull()
        if node.next_days is None:
            months = node.months or [self.today.month]
            return all_of([has, self._birthday_text("MM").isin([f"{m:02d}" for m in months])])
        start = self.today
        end = start + timedelta(days=node.next_days)
        ranges: list[tuple[str, str]] = []
        for year in range(start.year, end.year + 1):
            first = start if year == start.year else start.replace(year=year, month=1, day=1)
            last = end if year == end.year else first.replace(month=12, day=31)
            low, high = first.strftime("%m-%d"), last.strftime("%m-%d")
            if not isleap(year) and low == "03-01":
                low = "02-29"  # celebrated on 1 March in this year
            ranges.append((low, high))
        text = self._birthday_text("MM-DD")
        return all_of([has, any_of([all_of([text >= a, text <= b]) for a, b in ranges])])

    def c_age(self, node: r.AgeCondition, path: list[str]) -> Term:
        birthday = self.col("birthday")
        parts: list[Term] = [birthday.notnull()]
        if node.min is not None:
            parts.append(birthday <= years_before(self.today, node.min))
        if node.max is not None:
            parts.append(birthday > years_before(self.today, node.max + 1))
        return all_of(parts)

    def c_joined(self, node: r.JoinedCondition, path: list[str]) -> Term:
        return all_of(self.in_window(self.col("joined_at"), node.within) or [TRUE])

    def c_attribute(self, node: r.AttributeCondition, path: list[str]) -> Term:
        kind = node.value_kind
        value = self._attribute_value(node.key, kind)
        if node.equals is not None:
            test = value == self._attribute_operand(node.equals)
        elif node.in_ is not None:
            test = value.isin([self._attribute_operand(v) for v in node.in_])
        else:
            low = self._attribute_operand(node.min) if node.min is not None else None
            high = self._attribute_operand(node.max) if node.max is not None else None
            test = self.between(value, low, high)
        return all_of([value.notnull(), test])

    def _attribute_operand(self, value: Any) -> Any:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float) and self.postgres:
            return Decimal(str(value))
        return value

    def _attribute_value(self, key: str, kind: r.ValueKind) -> Term:
        """The attribute as a comparable SQL value; NULL when it is missing or
        of another JSON type, so a value of another type (or another brand's
        attribute of the same key) never matches and never breaks a cast.
        Booleans compare as the text ``true`` / ``false``."""
        attrs = self.col("attributes")
        if self.postgres:
            json_type = {"number": "number", "boolean": "boolean"}.get(kind, "string")
            text = "({} ->> CAST({} AS TEXT))"
            if kind == "number":
                text = "CAST(" + text + " AS NUMERIC)"
            return Sql(
                "CASE WHEN jsonb_typeof({} -> CAST({} AS TEXT)) = {} THEN " + text + " END",
                attrs,
                key,
                json_type,
                attrs,
                key,
            )
        json_path = f"$.{key}"
        if kind == "boolean":
            return Sql(
                "CASE WHEN json_type({}, {}) IN ('true', 'false') THEN json_type({}, {}) END",
                attrs,
                json_path,
                attrs,
                json_path,
            )
        types = "('integer', 'real')" if kind == "number" else "('text')"
        return Sql(
            f"CASE WHEN json_type({{}}, {{}}) IN {types} THEN json_extract({{}}, {{}}) END",
            attrs,
            json_path,
            attrs,
            json_path,
        )

    def c_tags(self, node: r.TagsCondition, path: list[str]) -> Term:
        def holders(codes: list[str]) -> QueryBuilder:
            ta = Table("tag_assignment", alias="ta")
            t = Table("tag", alias="t")
            tag_ids = (
                self.query_class.from_(t)
                .select(t.id)
                .where((t.brand_id == self.brand_id) & t.code.isin(codes))
            )
            live = any_of([ta.expires_at.isnull(), ta.expires_at > self.now])
            return (
                self.query_class.from_(ta)
                .select(ta.member_id)
                .where(
                    all_of(
                        [
                            ta.brand_id == self.brand_id,
                            Sql("{} IN {}", ta.tag_id, tag_ids),
                            live,
                            *self.in_window(ta.created_at, node.assigned_within),
                        ]
                    )
                )
            )

        if node.has is r.TagMatch.ALL:
            return all_of([self.members_in(holders([code])) for code in node.codes])
        found = self.members_in(holders(list(node.codes)))
        return Sql("NOT {}", Sql("({})", found)) if node.has is r.TagMatch.NONE else found

    def c_stats(self, node: r.StatsCondition, path: list[str]) -> Term:
        if node.metric is r.Metric.ORDERS_COUNT:
            low = int(node.min) if node.min is not None else None
            high = int(node.max) if node.max is not None else None
            return self.between(Sql("COALESCE({}, 0)", self.stat("orders_count")), low, high)
        low = self.minor(node.min, [*path, "min"])
        high = self.minor(node.max, [*path, "max"])
        total = Sql("COALESCE({} - {}, 0)", self.stat("gross_spent"), self.stat("refunded_total"))
        if node.metric is r.Metric.TOTAL_SPENT:
            return self.between(total, low, high)
        if node.metric is r.Metric.SPENT_LAST_365_DAYS:
            o = Table("sales_order", alias="o")
            recent = (
                self.query_class.from_(o)
                .select(Sql("CAST(SUM({} - {}) AS BIGINT)", o.amount_paid, o.refunded_amount))
                .where(
                    all_of(
                        [
                            o.brand_id == self.brand_id,
                            o.member_id == self.col("id"),
                            o.occurred_at >= self.now - RECENT_WINDOW,
                            *([o.occurred_at <= self.now] if self.as_of else []),
                        ]
                    )
                )
            )
            return self.between(Sql("COALESCE({}, 0)", recent), low, high)
        # Average order value, compared without dividing: total >= min x count.
        count = Sql("COALESCE({}, 0)", self.stat("orders_count"))
        parts: list[Term] = [count > 0]
        if low is not None:
            parts.append(total >= Sql("CAST({} AS BIGINT) * {}", low, count))
        if high is not None:
            parts.append(total <= Sql("CAST({} AS BIGINT) * {}", high, count))
        zero_matches = (low or 0) <= 0
        return any_of([all_of(parts), count == 0]) if zero_matches else all_of(parts)

    def c_firstOrder(self, node: r.FirstOrderCondition, path: list[str]) -> Term:
        column = self.stat("first_order_at")
        return all_of([column.notnull(), *self.in_window(column, node.within)])

    def c_lastOrder(self, node: r.LastOrderCondition, path: list[str]) -> Term:
        column = self.stat("last_order_at")
        return all_of([column.notnull(), *self.in_window(column, node.within)])

    def c_orders(self, node: r.OrdersCondition, path: list[str]) -> Term:
        o = Table("sales_order", alias="o")
        lines = Table("order_line", alias="l")
        filtered = node.skus is not None or node.categories is not None
        line_match: list[Term] = []
        if node.skus:
            line_match.append(lines.sku.isin(list(node.skus)))
        if node.categories:
            line_match.append(lines.category.isin(list(node.categories)))
        of_member = [
            o.brand_id == self.brand_id,
            o.member_id == self.col("id"),
            *self.in_window(o.occurred_at, node.within),
        ]
        matching_line = [lines.brand_id == self.brand_id, any_of(line_match)] if filtered else []
        parts: list[Term] = []
        count = node.count or (None if node.amount else r.CountRange(min=1))
        if count is not None:
            where = list(of_member)
            if filtered:
                has_line = (
                    self.query_class.from_(lines)
                    .select(ONE)
                    .where(all_of([lines.order_id == o.id, *matching_line]))
                )
                where.append(Sql("EXISTS {}", has_line))
            parts.append(self.count_in(self.query_class.from_(o).where(all_of(where)), count))
        if node.amount is not None:
            low = self.minor(node.amount.min, [*path, "amount", "min"])
            high = self.minor(node.amount.max, [*path, "amount", "max"])
            if filtered:
                spent = (
                    self.query_class.from_(lines)
                    .join(o)
                    .on(o.id == lines.order_id)
                    .select(
                        Sql(
                            "CAST(SUM({} - {}) AS BIGINT)", lines.paid_amount, lines.refunded_amount
                        )
                    )
                    .where(all_of([*of_member, *matching_line]))
                )
            else:
                spent = (
                    self.query_class.from_(o)
                    .select(Sql("CAST(SUM({} - {}) AS BIGINT)", o.amount_paid, o.refunded_amount))
                    .where(all_of(of_member))
                )
            parts.append(self.between(Sql("COALESCE({}, 0)", spent), low, high))
        return all_of(parts)

    def c_events(self, node: r.EventsCondition, path: list[str]) -> Term:
        e = Table("behaviour_event", alias="e")
        query = self.query_class.from_(e).where(
            all_of(
                [
                    e.brand_id == self.brand_id,
                    e.member_id == self.col("id"),
                    e.type == node.event,
                    *self.in_window(e.occurred_at, node.within),
                ]
            )
        )
        return self.count_in(query, node.count or r.CountRange(min=1))

    def _lifecycle(self, *criteria: Term) -> Term:
        lc = Table("member_lifecycle", alias="lc")
        query = (
            self.query_class.from_(lc)
            .select(lc.member_id)
            .where(all_of([lc.brand_id == self.brand_id, *criteria]))
        )
        return self.members_in(query)

    def c_lifecycle(self, node: r.LifecycleCondition, path: list[str]) -> Term:
        lc = Table("member_lifecycle", alias="lc")
        return self._lifecycle(lc.stage.isin([s.value for s in node.in_]))

    def c_rfm(self, node: r.RfmCondition, path: list[str]) -> Term:
        lc = Table("member_lifecycle", alias="lc")
        criteria: list[Term] = []
        for name in ("recency", "frequency", "monetary"):
            wanted: r.ScoreRange | None = getattr(node, name)
            if wanted is not None:
                column = lc.field(f"{name}_score")
                criteria.append(self.between(column, wanted.min, wanted.max))
        return self._lifecycle(*criteria)

    def c_cluster(self, node: r.ClusterCondition, path: list[str]) -> Term:
        mc = Table("member_cluster", alias="mc")
        query = (
            self.query_class.from_(mc)
            .select(mc.member_id)
            .where(all_of([mc.brand_id == self.brand_id, mc.cluster.isin(list(node.in_))]))
        )
        return self.members_in(query)

    def c_segment(self, node: r.SegmentCondition, path: list[str]) -> Term:
        return self.members_in(self.reader(self.scope, node.segment, self.query_class))

    def c_tier(self, node: r.TierCondition, path: list[str]) -> Term:
        ts = Table("member_tier_state", alias="ts")
        td = Table("tier_definition", alias="td")
        if node.in_ is not None:
            wanted: Term = td.code.isin(list(node.in_))
        else:
            floor = Table("tier_definition", alias="tf")
            rank = (
                self.query_class.from_(floor)
                .select(floor.rank)
                .where((floor.brand_id == self.brand_id) & (floor.code == node.at_least))
            )
            wanted = Sql("{} >= {}", td.rank, rank)
        holders = (
            self.query_class.from_(ts)
            .join(td)
            .on(td.id == ts.tier_id)
            .select(ts.member_id)
            .where(all_of([ts.brand_id == self.brand_id, td.brand_id == self.brand_id, wanted]))
        )
        return self.members_in(holders)

    def c_points(self, node: r.PointsCondition, path: list[str]) -> Term:
        a = Table("asset_account", alias="a")
        balance = (
            self.query_class.from_(a)
            .select(a.balance)
            .where(
                all_of(
                    [a.brand_id == self.brand_id, a.member_id == self.col("id"), a.kind == "points"]
                )
            )
        )
        return self.between(Sql("COALESCE({}, 0)", balance), node.min, node.max)

    def c_coupons(self, node: r.CouponsCondition, path: list[str]) -> Term:
        c = Table("coupon", alias="c")
        unused = self.query_class.from_(c).where(
            all_of(
                [
                    c.brand_id == self.brand_id,
                    c.member_id == self.col("id"),
                    c.status == "available",
                    c.expires_at > self.now,
                ]
            )
        )
        return self.count_in(unused, node.count or r.CountRange(min=1))

    # -- the statement ---------------------------------------------------------

    def select(self, rule: r.Rule, only_member_ids: Sequence[int] | None) -> QueryBuilder:
        where = self.condition(rule.root, ["rule"])
        m = self.member
        query = self.query_class.from_(m)
        if self.uses_stats:
            ms = self.stats
            query = query.left_join(ms).on((ms.member_id == m.id) & (ms.brand_id == m.brand_id))
        # An erased member is no one any more: no segment profiles them again
        # (docs/privacy.md, "Erasure"); a merge's tombstone
        # (tessera.members.merge) is in no segment: its survivor holds its facts now.
        criteria: list[Term] = [
            m.brand_id == self.brand_id,
            m.status != "erased",
            m.merged_into_id.isnull(),
        ]
        if only_member_ids is not None:
            criteria.append(m.id.isin(list(only_member_ids)) if only_member_ids else FALSE)
        return query.where(all_of([*criteria, where]))


def _build(
    scope: BrandScope,
    rule: r.Rule,
    now: datetime,
    segment_reader: SegmentReader,
    only_member_ids: Sequence[int] | None,
    connection: Any,
    as_of: bool = False,
) -> QueryBuilder:
    """The rule's query with nothing selected yet."""
    connection = connection or connections.get("default")
    compiler = _Compiler(
        scope,
        now,
        connection.capabilities.dialect,
        connection.query_class,
        segment_reader,
        as_of,
    )
    query = compiler.select(rule, only_member_ids)
    if compiler.errors:
        raise DomainErrors(compiler.errors)
    return query


def compile_member_ids(
    scope: BrandScope,
    rule: r.Rule,
    now: datetime,
    *,
    segment_reader: SegmentReader = stored_membership,
    only_member_ids: Sequence[int] | None = None,
    connection: Any = None,
) -> tuple[str, list[Any]]:
    """One parameterised statement selecting the ids of the brand's members
    that match ``rule`` at ``now``, in the dialect of ``connection`` (the
    default connection when not given). The member table is aliased ``"m"``;
    ``only_member_ids`` restricts it to some members (incremental refresh).

    Reads nothing: tags are matched by code inside the statement, and a tag,
    attribute or segment the brand does not have simply matches no one (a
    stored rule stays valid when a tag is deleted). Check a rule an operator
    is writing with :func:`tessera.segments.references.check_references`.
    Raises :class:`DomainErrors` for amounts the brand's currency cannot hold.
    """
    query = _build(scope, rule, now, segment_reader, only_member_ids, connection)
    return to_sql(query.select(MEMBER.id))


async def count_and_sample(
    scope: BrandScope,
    rule: r.Rule,
    now: datetime,
    sample: int = 10,
    *,
    segment_reader: SegmentReader = stored_membership,
    connection: Any = None,
    as_of: bool = False,
) -> tuple[int, list[Member]]:
    """How many members match, and up to ``sample`` of them (the newest).
    Reads only: a count, the sample's ids, and their rows. Check the rule's
    references first when it comes from an operator.

    ``as_of``: ``now`` is a past instant (:func:`timewindows.as_of_instant`)
    and the rule is read as it would have been then: relative windows end at
    ``now`` and ignore later facts, birthdays and ages count from that day."""
    connection = connection or connections.get("default")
    query = _build(scope, rule, now, segment_reader, None, connection, as_of)
    _, rows = await connection.execute_query(*to_sql(query.select(Sql("COUNT(*)"))))
    total = int(rows[0][0])
    if not total or sample <= 0:
        return total, []
    newest = query.select(MEMBER.id).orderby(MEMBER.id, order=Order.desc).limit(sample)
    _, id_rows = await connection.execute_query(*to_sql(newest))
    members = await scope.query(Member).filter(id__in=[row[0] for row in id_rows]).order_by("-id")
    return total, list(members)
