"""The lifecycle report's stage flows, stored for closed periods
(docs/reports.md, "Stored stage flows").

A member's stage at an instant reads their orders up to it, so the flows
of a period (stage at its start → at its end) are one pass over every
order placed before its end, and have no additive form: a pair is per
member. What a closed calendar month or year gives depends only on

- the orders placed until its end, and the members who joined before it:
  every change to those (an order placed, changed, refunded or moved by a
  merge; a member created, re-dated, deleted, merged or erased) marks a
  local day up to the period's last dirty, which bumps that day's version
  (``tessera.reports.versions``);
- the brand's timezone (its days and midnights);
- the lifecycle settings the stages read
  (``tessera.segments.lifecycle.STAGE_SETTINGS``).

:func:`refresh` (the ``stage_flows_tick`` job) computes the flows of the
brand's ended months and years that have no valid stored rows, most recent
first, a few a tick, with the live statement, and stores them with the Σ of
the versions of the days up to the period's last, read before the
statement (a change committed meanwhile leaves them stale, never wrong).
:func:`stage_flows` reads the stored rows of a whole month or year without
a filter in one statement that checks that Σ, the settings and the
timezone; anything else, or rows no longer valid, is computed live, so the
answer is always the live one.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from tessera.reports.api import Buyer, Query, ReportParams, local_day, local_midnight, scope_query
from tessera.reports.models import FlowPeriod, StageFlow
from tessera.reports.versions import day_versions, signature, signature_sql
from tessera.scope import BrandScope
from tessera.tenancy.models import Brand
from tessera.uow import unit_of_work

if TYPE_CHECKING:
    from tessera.reports.api import ReportContext
    from tessera.segments.models import LifecycleSettings

# Periods a tick computes per brand: one costs a pass over the orders up to
# its end (seconds at millions of orders); a history is done over a few
# ticks, the most recent (most asked for) first.
PER_TICK = 3

Flows = list[tuple[str, str, int]]


def statement(
    q: Query,
    brand_id: int,
    timezone: str,
    settings: LifecycleSettings,
    first: date,
    last: date,
    member_filter: str = "",
) -> str:
    """The live flows of ``[first, last]`` (local days): columns ``s_from``,
    ``s_to``, ``n``. ``member_filter`` (`` AND ...`` on ``m.id``, bound in
    ``q``) restricts the members."""
    from tessera.segments.lifecycle import stage_sql

    start = local_midnight(first, timezone)
    end = local_midnight(last + timedelta(days=1), timezone)
    brand = q(brand_id)

    def stage(suffix: str, day: date, before: datetime) -> str:
        return (
            f"CASE WHEN m.joined_at >= {q(before)} THEN 'none' ELSE "
            + stage_sql(
                q,
                settings,
                day,
                timezone,
                f"COALESCE(h.last_{suffix}, m.joined_at)",
                f"h.n_{suffix}",
            )
            + " END"
        )

    s_from = stage("a", first - timedelta(days=1), start)
    s_to = stage("b", last, end)
    # Both instants' histories in one pass over the orders (two grouped
    # scans were 1.5x this at 10M orders).
    before = q(start)
    history = (
        f"(SELECT o.member_id, SUM(CASE WHEN o.occurred_at < {before} THEN 1 ELSE 0 END) "
        f"AS n_a, MAX(CASE WHEN o.occurred_at < {before} THEN o.occurred_at END) AS last_a, "
        "COUNT(*) AS n_b, MAX(o.occurred_at) AS last_b "
        f"FROM sales_order o WHERE o.brand_id = {brand} AND o.occurred_at < {q(end)} "
        "GROUP BY o.member_id)"
    )
    return (
        f"SELECT {s_from} AS s_from, {s_to} AS s_to, COUNT(*) AS n FROM member m "
        f"LEFT JOIN {history} h ON h.member_id = m.id "
        f"WHERE m.brand_id = {brand} AND m.joined_at < {q(end)}{member_filter} GROUP BY 1, 2"
    )


def _flows(rows: list[dict[str, Any]]) -> Flows:
    return sorted((str(r["s_from"]), str(r["s_to"]), int(r["n"])) for r in rows)


def storable(first: date, last: date) -> bool:
    """Whether ``[first, last]`` is exactly a calendar month or year."""
    from tessera.reports.rollup import period_kind

    return period_kind(first, last) in ("month", "year")


async def stage_flows(context: ReportContext, params: ReportParams) -> Flows:
    """``ReportContext.stage_flows``: the stored flows when valid, else live."""
    from tessera.segments.lifecycle import settings_of

    settings = await settings_of(context.scope)
    if (
        params.tier is None
        and context.segment_id is None
        and params.buyer is Buyer.ALL
        and storable(params.start, params.end)
    ):
        found = await stored_flows(
            context.scope, params.start, params.end, settings, context.connection
        )
        if found is not None:
            return found
    q = context.query()
    sql = statement(
        q,
        context.brand.id,
        context.brand.timezone,
        settings,
        params.start,
        params.end,
        context.member_filter(q, params, "m.id"),
    )
    return _flows(await q.rows(sql))


async def stored_flows(
    scope: BrandScope,
    first: date,
    last: date,
    settings: LifecycleSettings | None = None,
    connection: Any = None,
) -> Flows | None:
    """The stored flows of ``[first, last]`` if still valid, else None. One
    statement: the versions it checks are those of the rows it reads."""
    from tessera.segments.lifecycle import settings_of, stage_fingerprint

    settings = settings or await settings_of(scope)
    q = scope_query(scope, connection)
    brand, end = q(scope.brand_id), q(last)
    rows = await q.rows(
        "SELECT f.s_from AS s_from, f.s_to AS s_to, f.members AS n FROM report_flow_period p "
        "LEFT JOIN report_stage_flow f ON f.brand_id = p.brand_id AND f.period_id = p.id "
        f"WHERE p.brand_id = {brand} AND p.first_day = {q(first)} AND p.last_day = {end} "
        f"AND p.timezone = {q(scope.brand.timezone)} "
        f"AND p.settings = {q(stage_fingerprint(settings))} "
        f"AND p.signature = {signature_sql(brand, end)}"
    )
    if not rows:
        return None
    # A stored period without members has one row of NULLs.
    return _flows([r for r in rows if r["s_from"] is not None])


def ended_periods(joined: date, today: date) -> list[tuple[date, date]]:
    """The calendar months and years from the one holding ``joined`` that
    ended before ``today``, the most recent first (a year after its
    December)."""
    periods: list[tuple[date, date]] = []
    month = joined.replace(day=1)
    while True:
        following = (month + timedelta(days=32)).replace(day=1)
        if following > today:
            break
        periods.append((month, following - timedelta(days=1)))
        if following.month == 1:
            periods.append((date(month.year, 1, 1), month.replace(day=31)))
        month = following
    return sorted(periods, key=lambda p: (p[1], p[0]), reverse=True)


async def refresh(scope: BrandScope, now: datetime | None = None, limit: int | None = None) -> int:
    """Store the flows of the brand's ended months and years (local
    calendar, from its first member's) that have no valid stored rows, the
    most recent first, at most ``limit`` of them (None: all). Returns how
    many were stored. ``now`` (tests) stands for the clock."""
    from tessera.members.models import Member
    from tessera.segments.lifecycle import settings_of, stage_fingerprint

    now = now or datetime.now(UTC)
    tz = scope.brand.timezone
    joined = (
        await scope.query(Member)
        .filter(joined_at__isnull=False)
        .order_by("joined_at")
        .first()
        .values_list("joined_at", flat=True)
    )
    if joined is None:
        return 0
    periods = ended_periods(local_day(joined, tz), local_day(now, tz))  # type: ignore[arg-type]
    if not periods:
        return 0
    settings = await settings_of(scope)
    fingerprint = stage_fingerprint(settings)
    versions = await day_versions(scope, None, periods[0][1])
    have = {
        (p.first_day, p.last_day): p
        for p in await scope.query(FlowPeriod)
        if p.timezone == tz and p.settings == fingerprint
    }
    done = 0
    for first, last in periods:
        if limit is not None and done >= limit:
            break
        stored = have.get((first, last))
        if stored is not None and stored.signature == signature(versions, None, last):
            continue
        await store(scope, first, last, settings, now)
        done += 1
    return done


async def store(
    scope: BrandScope,
    first: date,
    last: date,
    settings: LifecycleSettings | None = None,
    now: datetime | None = None,
) -> None:
    """Compute the flows of ``[first, last]`` with the live statement and
    store them in place of any stored before."""
    from tessera.segments.lifecycle import settings_of, stage_fingerprint

    settings = settings or await settings_of(scope)
    now = now or datetime.now(UTC)
    # Versions before the statement: a change committed meanwhile leaves the
    # stored rows stale, never wrong.
    versions = await day_versions(scope, None, last)
    q = scope_query(scope)
    rows = _flows(
        await q.rows(statement(q, scope.brand_id, scope.brand.timezone, settings, first, last))
    )
    async with unit_of_work(scope) as uow:
        conn = uow.connection
        old = (
            await scope.query(FlowPeriod)
            .using_db(conn)
            .filter(first_day=first, last_day=last)
            .values_list("id", flat=True)
        )
        if old:
            # The stored flows go with their period (ON DELETE CASCADE).
            await scope.query(FlowPeriod).using_db(conn).filter(id__in=old).delete()
        period = await scope.create(
            FlowPeriod,
            using_db=conn,
            first_day=first,
            last_day=last,
            timezone=scope.brand.timezone,
            settings=stage_fingerprint(settings),
            signature=signature(versions, None, last),
            computed_at=now,
        )
        if rows:
            await scope.insert_many(
                StageFlow,
                [
                    scope.build(StageFlow, period_id=period.id, s_from=a, s_to=b, members=n)
                    for a, b, n in rows
                ],
                using_db=conn,
            )


async def stage_flows_tick(ctx: dict[str, Any], brand_id: int | None = None) -> int:
    """Store the stage flows of ended periods, a few per brand (of one
    brand or of every brand)."""
    del ctx
    query = Brand.filter(id=brand_id) if brand_id is not None else Brand.all()
    done = 0
    for brand in await query.order_by("id"):
        done += await refresh(BrandScope(brand), limit=PER_TICK)
    return done
