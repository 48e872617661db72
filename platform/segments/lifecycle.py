"""RFM scores and lifecycle stages, stored per member.

Definitions (a brand changes the numbers in :class:`LifecycleSettings`):

- The **RFM window** is the last ``rfm_window_days`` days. A member without an
  order in it has no scores (null). Otherwise, from the orders in the window:
  *frequency* is their count, *monetary* their amount paid minus refunded
  (minor units), *recency* the brand-local calendar days since the latest.
- **Scores** 1..5 come from four cut-offs per measure, either fixed by the
  brand or, by default, the brand's own quintiles (recomputed nightly):
  frequency and monetary score ``1 + (number of cut-offs below the value)``;
  recency scores 5 within ``c1`` days, 4 within ``c2``, ... and 1 beyond
  ``c4``.
- The **stage** reads the days since the last order (ever; since joining for
  a member who never ordered), on the brand's calendar: within
  ``active_days`` a member is ``new`` with at most ``new_max_orders`` orders,
  else ``active``; then ``silent`` within ``silent_days``, ``sleeping``
  within ``sleeping_days``, ``about_to_churn`` within
  ``about_to_churn_days``, and ``churned`` beyond.

Everything is computed by one ``INSERT ... SELECT ... ON CONFLICT`` over the
brand's members (nightly) or over the members whose orders changed (after
each order or refund), with the same SQL, so the two always agree.

**As of a date** (history imported from an old system): ``recompute_brand``
with ``as_of`` reads "today" as that day on the brand's calendar and ignores
orders placed after its end, so a 1998 history is scored as it stood in
1998 rather than all churned today. The nightly run and the recomputation
after each order use the present.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from tessera.db import stored_time
from tessera.errors import DomainError, DomainErrors
from tessera.scope import BrandScope
from tessera.segments.materialise import Statement
from tessera.segments.models import LifecycleSettings, MemberLifecycle
from tessera.segments.timewindows import as_of_instant, local_midnight, local_today

MEASURES = ("recency", "frequency", "monetary")
MAX_WINDOW_DAYS = 3650


class Stage(StrEnum):
    NEW = "new"
    ACTIVE = "active"
    SILENT = "silent"
    SLEEPING = "sleeping"
    ABOUT_TO_CHURN = "about_to_churn"
    CHURNED = "churned"


class ScoreMethod(StrEnum):
    QUINTILES = "quintiles"
    FIXED = "fixed"


@dataclass(frozen=True)
class Rfm:
    recency: int | None
    frequency: int | None
    monetary: int | None


# Settings


async def settings_of(scope: BrandScope) -> LifecycleSettings:
    """The brand's settings; the defaults (unsaved) when it never set any."""
    found = await scope.query(LifecycleSettings).first()
    return found if found is not None else scope.build(LifecycleSettings)


_DAY_FIELDS = ("active_days", "silent_days", "sleeping_days", "about_to_churn_days")
_INT_FIELDS = ("rfm_window_days", "new_max_orders", *_DAY_FIELDS)
_CAMEL = {
    "rfm_window_days": "rfmWindowDays",
    "score_method": "scoreMethod",
    "recency_cutoffs": "recencyCutoffs",
    "frequency_cutoffs": "frequencyCutoffs",
    "monetary_cutoffs": "monetaryCutoffs",
    "new_max_orders": "newMaxOrders",
    "active_days": "activeDays",
    "silent_days": "silentDays",
    "sleeping_days": "sleepingDays",
    "about_to_churn_days": "aboutToChurnDays",
}


async def update_settings(scope: BrandScope, changes: Mapping[str, Any]) -> LifecycleSettings:
    """Change the keys present in ``changes`` (snake_case names of
    :class:`LifecycleSettings`); every problem is reported, nothing is saved
    unless all pass. Scores and stages follow at the next computation."""
    settings = await settings_of(scope)
    for name, value in changes.items():
        if name not in _CAMEL:
            raise DomainError("INVALID", f"unknown setting {name!r}", [name])
        setattr(settings, name, value)
    errors = _check(settings)
    if errors:
        raise DomainErrors(errors)
    await settings.save()
    return settings


def _check(s: LifecycleSettings) -> list[DomainError]:
    errors: list[DomainError] = []
    if not 1 <= s.rfm_window_days <= MAX_WINDOW_DAYS:
        errors.append(_bad("rfm_window_days", f"is between 1 and {MAX_WINDOW_DAYS} days"))
    if s.new_max_orders < 0:
        errors.append(_bad("new_max_orders", "cannot be negative"))
    days = [getattr(s, name) for name in _DAY_FIELDS]
    for name, value in zip(_DAY_FIELDS, days, strict=True):
        if not 1 <= value <= MAX_WINDOW_DAYS:
            errors.append(_bad(name, f"is between 1 and {MAX_WINDOW_DAYS} days"))
    for earlier, later, a, b in zip(_DAY_FIELDS, _DAY_FIELDS[1:], days, days[1:], strict=False):
        if b <= a:
            errors.append(_bad(later, f"must be more days than {_CAMEL[earlier]}"))
    if s.score_method not in set(ScoreMethod):
        errors.append(_bad("score_method", "is QUINTILES or FIXED"))
    for measure in MEASURES:
        name = f"{measure}_cutoffs"
        cutoffs = getattr(s, name)
        if s.score_method == ScoreMethod.FIXED and not cutoffs:
            errors.append(_bad(name, "is needed with fixed thresholds"))
        elif cutoffs and (
            len(cutoffs) != 4
            or any(not isinstance(c, int) or isinstance(c, bool) or c < 0 for c in cutoffs)
            or cutoffs != sorted(cutoffs)
        ):
            errors.append(_bad(name, "is 4 whole numbers, none negative, in ascending order"))
    return errors


def _bad(name: str, message: str) -> DomainError:
    return DomainError("INVALID", f"{_CAMEL[name]} {message}", [_CAMEL[name]])


# Reading


async def lifecycle_of(scope: BrandScope, member_ids: Sequence[int]) -> dict[int, MemberLifecycle]:
    rows = await scope.query(MemberLifecycle).filter(member_id__in=list(member_ids))
    return {row.member_id: row for row in rows}


# Computing


def _window_sql(stmt: Statement, brand_id: int, start: datetime, end: datetime, only: str) -> str:
    return (
        "SELECT o.member_id, COUNT(*) AS f, "
        "SUM(o.amount_paid - o.refunded_amount) AS m, MAX(o.occurred_at) AS r "
        f'FROM "sales_order" AS o WHERE o.brand_id = {stmt(brand_id)} '
        f"AND o.occurred_at >= {stmt(start)} AND o.occurred_at <= {stmt(end)}{only} "
        "GROUP BY o.member_id"
    )


async def quintiles(
    scope: BrandScope, connection: Any, settings: LifecycleSettings, now: datetime
) -> dict[str, list[int | None]]:
    """The brand's quintile cut-offs of each measure over the RFM window
    (``None`` where the brand has too few scored members for a quintile)."""
    tz = scope.brand.timezone
    result: dict[str, list[int | None]] = {}
    for measure, column in (("frequency", "f"), ("monetary", "m")):
        stmt = Statement(connection.capabilities.dialect)
        window = _window_sql(
            stmt, scope.brand_id, now - timedelta(days=settings.rfm_window_days), now, ""
        )
        rows = await connection.execute_query_dict(
            f"SELECT k, MAX(v) AS v FROM (SELECT {column} AS v, "
            f"NTILE(5) OVER (ORDER BY {column}) AS k FROM ({window}) AS w) AS q GROUP BY k",
            stmt.params,
        )
        by_bucket = {int(r["k"]): int(r["v"]) for r in rows}
        result[measure] = [by_bucket.get(k) for k in range(1, 5)]
    stmt = Statement(connection.capabilities.dialect)
    window = _window_sql(
        stmt, scope.brand_id, now - timedelta(days=settings.rfm_window_days), now, ""
    )
    rows = await connection.execute_query_dict(
        "SELECT k, MIN(v) AS v FROM (SELECT r AS v, "
        f"NTILE(5) OVER (ORDER BY r DESC) AS k FROM ({window}) AS w) AS q GROUP BY k",
        stmt.params,
    )
    today = local_today(now, tz)
    recency: list[int | None] = []
    for k in range(1, 5):
        oldest = next((r["v"] for r in rows if int(r["k"]) == k), None)
        recency.append(
            None if oldest is None else (today - local_today(stored_time(oldest), tz)).days
        )
    result["recency"] = recency
    return result


def cutoffs_in_use(
    settings: LifecycleSettings, computed: dict[str, list[int | None]] | None
) -> dict[str, list[int | None]]:
    if settings.score_method == ScoreMethod.FIXED:
        return {m: list(getattr(settings, f"{m}_cutoffs")) for m in MEASURES}
    source = computed if computed is not None else settings.quintile_cutoffs
    return {m: list(source.get(m) or [None] * 4) for m in MEASURES}


async def compute(
    scope: BrandScope,
    connection: Any,
    now: datetime,
    *,
    only: Sequence[int] | None = None,
    settings: LifecycleSettings | None = None,
    as_of: bool = False,
) -> None:
    """Store every member's (or ``only`` those members') scores and stage as
    of ``now``, in ``connection``'s transaction. Without stored quintiles
    (the nightly job has not run yet) they are computed, and kept when the
    brand has a settings row. ``as_of``: ``now`` is in the past, so the
    stage reads the orders placed until then instead of the running totals."""
    settings = settings or await settings_of(scope)
    computed = None
    if settings.score_method == ScoreMethod.QUINTILES and not settings.quintile_cutoffs:
        computed = await quintiles(scope, connection, settings, now)
        # Kept until the nightly run refreshes them: ranking every order of the
        # brand again for each member's re-evaluation costs more than the rest
        # of it (hundreds of queued jobs each ranking the brand jammed workers).
        if settings._saved_in_db:
            await (
                scope.query(LifecycleSettings)
                .using_db(connection)
                .filter(id=settings.id)
                .update(quintile_cutoffs=computed)
            )
        else:
            # A concurrent job may insert the brand's row first: then its
            # cut-offs stand (both ranked the same orders).
            await scope.insert_many(
                LifecycleSettings,
                [scope.build(LifecycleSettings, quintile_cutoffs=computed)],
                using_db=connection,
                ignore_conflicts=True,
            )
    cutoffs = cutoffs_in_use(settings, computed)
    tz = scope.brand.timezone
    today = local_today(now, tz)

    def day_start(days_ago: int) -> datetime:
        return local_midnight(today - timedelta(days=days_ago), tz)

    dialect = connection.capabilities.dialect
    stmt = Statement(dialect)
    restrict_orders = f" AND o.member_id IN ({stmt.ids(only)})" if only is not None else ""
    window = _window_sql(
        stmt,
        scope.brand_id,
        now - timedelta(days=settings.rfm_window_days),
        now,
        restrict_orders,
    )

    def above(column: str, values: list[int | None]) -> str:
        terms = [
            f"CASE WHEN {column} > {stmt(v)} THEN 1 ELSE 0 END" for v in values if v is not None
        ]
        return " + ".join(terms) or "0"

    older = [
        f"CASE WHEN a.r < {stmt(day_start(days))} THEN 1 ELSE 0 END"
        for days in cutoffs["recency"]
        if days is not None
    ]
    recency = f"5 - ({' + '.join(older) or '0'})"
    frequency = f"1 + ({above('a.f', cutoffs['frequency'])})"
    monetary = f"1 + ({above('a.m', cutoffs['monetary'])})"
    if as_of:
        history = (
            "(SELECT o.member_id, COUNT(*) AS orders_count, MAX(o.occurred_at) AS last_order_at "
            f'FROM "sales_order" AS o WHERE o.brand_id = {stmt(scope.brand_id)} '
            f"AND o.occurred_at <= {stmt(now)}{restrict_orders} GROUP BY o.member_id)"
        )
    else:
        history = '"member_stats"'
    stage = stage_sql(
        stmt, settings, today, tz, "COALESCE(s.last_order_at, m.joined_at)", "s.orders_count"
    )
    scored = "a.member_id IS NULL THEN NULL ELSE"
    restrict_members = f" AND m.id IN ({stmt.ids(only)})" if only is not None else ""
    sql = (
        'INSERT INTO "member_lifecycle" (member_id, brand_id, recency_score, frequency_score, '
        "monetary_score, stage, computed_at) "
        f"SELECT m.id, m.brand_id, CASE WHEN {scored} {recency} END, "
        f"CASE WHEN {scored} {frequency} END, CASE WHEN {scored} {monetary} END, "
        f"{stage}, {stmt(now)} "
        f'FROM "member" AS m LEFT JOIN {history} AS s ON s.member_id = m.id '
        f"LEFT JOIN ({window}) AS a ON a.member_id = m.id "
        f"WHERE m.brand_id = {stmt(scope.brand_id)} AND m.status <> 'erased'{restrict_members} "
        # Rows are locked in member order, the same in every job, so two jobs
        # over overlapping members wait for each other instead of deadlocking.
        "ORDER BY m.id "
        "ON CONFLICT (member_id) DO UPDATE SET recency_score = excluded.recency_score, "
        "frequency_score = excluded.frequency_score, monetary_score = excluded.monetary_score, "
        "stage = excluded.stage, computed_at = excluded.computed_at"
    )
    await connection.execute_query(sql, stmt.params)


# The settings :func:`stage_sql` reads: a stage computed with other values
# differs (stored stage flows keep these with their rows).
STAGE_SETTINGS = ("new_max_orders", *_DAY_FIELDS)


def stage_fingerprint(settings: LifecycleSettings) -> str:
    """The values of :data:`STAGE_SETTINGS`, as one text."""
    return ",".join(f"{name}={int(getattr(settings, name))}" for name in STAGE_SETTINGS)


def stage_sql(
    bind: Callable[[Any], str],
    settings: LifecycleSettings,
    today: date,
    timezone: str,
    last: str,
    orders_count: str,
) -> str:
    """The stage as an SQL ``CASE`` on ``today`` (a brand-local day), from
    the columns ``last`` (the last order, or joining) and ``orders_count``
    (``bind`` binds a value and returns its placeholder): the one definition
    the stored stages and the reports' stage flows share."""

    def day_start(days_ago: int) -> datetime:
        return local_midnight(today - timedelta(days=days_ago), timezone)

    return (
        f"CASE WHEN {last} >= {bind(day_start(settings.active_days))} THEN "
        f"(CASE WHEN COALESCE({orders_count}, 0) <= {bind(settings.new_max_orders)} "
        f"THEN '{Stage.NEW}' ELSE '{Stage.ACTIVE}' END) "
        f"WHEN {last} >= {bind(day_start(settings.silent_days))} THEN '{Stage.SILENT}' "
        f"WHEN {last} >= {bind(day_start(settings.sleeping_days))} THEN '{Stage.SLEEPING}' "
        f"WHEN {last} >= {bind(day_start(settings.about_to_churn_days))} "
        f"THEN '{Stage.ABOUT_TO_CHURN}' ELSE '{Stage.CHURNED}' END"
    )


async def recompute_brand(
    scope: BrandScope, now: datetime | None = None, *, as_of: date | None = None
) -> datetime:
    """The nightly run: fresh quintiles (stored), then every member. With
    ``as_of`` (a past day on the brand's calendar), everything as it stood
    at that day's end. Returns the instant the scores describe."""
    from tessera.uow import unit_of_work

    now = now or datetime.now(UTC)
    if as_of is not None:
        now = as_of_instant(as_of, scope.brand.timezone, now)
    settings = await settings_of(scope)
    async with unit_of_work(scope) as work:
        connection = work.connection
        if settings.score_method == ScoreMethod.QUINTILES:
            settings.quintile_cutoffs = await quintiles(scope, connection, settings, now)
            await settings.save(using_db=connection)
        await compute(scope, connection, now, settings=settings, as_of=as_of is not None)
    return now


async def recompute_members(
    scope: BrandScope, member_ids: Sequence[int], now: datetime | None = None
) -> None:
    """After orders or refunds of ``member_ids``: their scores and stage."""
    from tessera.uow import unit_of_work

    if not member_ids:
        return
    async with unit_of_work(scope) as work:
        await compute(scope, work.connection, now or datetime.now(UTC), only=member_ids)
