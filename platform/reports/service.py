"""Running the report types a brand has enabled: parameters checked field by
field, the comparison period run by the same code, results cached until new
facts arrive, targets attached, a failing plugin recorded on its feature
(docs/reports.md)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from pydantic import ValidationError
from tortoise import connections

from tessera import runtime
from tessera.errors import DomainError, DomainErrors
from tessera.features.models import BrandFeature
from tessera.features.service import load_config
from tessera.orders.money import exponent
from tessera.plugin_host.components import ComponentFamily, ReportType
from tessera.plugin_host.context import BrandInfo
from tessera.reports.api import (
    FILTERS,
    Figure,
    ReportContext,
    ReportParams,
    ReportResult,
    Unit,
)
from tessera.reports.models import ReportTarget
from tessera.reports.rollup import rollups_ready
from tessera.scope import BrandScope
from tessera.segments.models import Segment
from tessera.tiers.models import TierDefinition
from tessera.uow import unit_of_work

log = logging.getLogger("tessera.reports")

CACHE_SIZE = 256
CACHE_SECONDS = 300.0
# Every table a report reads facts from; a new row in any of them (any
# brand's: the maximum id is one index probe) means a cached result may be stale.
FACT_TABLES = (
    "sales_order",
    "refund",
    "member",
    "ledger_entry",
    "tier_history",
    "coupon",
    "coupon_redemption",
    "segment_refresh",
    # Campaign effect: recipients frozen at launch, their messages decided.
    "campaign_recipient",
    "message",
)


class ReportFailed(DomainError):
    """The report's plugin raised; recorded as the feature's ``lastError``."""

    def __init__(self, message: str) -> None:
        super().__init__("REPORT_FAILED", message, ["type"])


@dataclass(frozen=True)
class ReportTypeView:
    key: str
    title: str
    description: str
    cls: type[ReportType]
    last_error: str | None

    def params_schema(self) -> dict[str, Any]:
        schema = self.cls.Params.model_json_schema()
        props = schema.get("properties", {})
        for name in FILTERS:
            if name not in self.cls.filters:
                props.pop(name, None)
        schema["description"] = f"At most {self.cls.max_span_days} days from start to end."
        return schema


@dataclass(frozen=True)
class ReportRun:
    type: ReportTypeView
    params: ReportParams
    result: ReportResult
    cached: bool


async def report_types(scope: BrandScope) -> list[ReportTypeView]:
    """The report types enabled on the brand whose plugin is installed."""
    host = runtime.current().host
    views = []
    for feature in (
        await scope.query(BrandFeature)
        .filter(family=ComponentFamily.REPORT_TYPE.value, enabled=True)
        .order_by("component_key")
    ):
        registered = host.component(feature.component_key)
        if registered is None or not issubclass(registered.cls, ReportType):
            continue
        cls = registered.cls
        views.append(ReportTypeView(cls.key, cls.title, cls.description, cls, feature.last_error))
    return views


async def report_type(scope: BrandScope, key: str) -> ReportTypeView:
    for view in await report_types(scope):
        if view.key == key:
            return view
    raise DomainError("NOT_FOUND", f"no report type {key!r} is enabled on this brand", ["type"])


async def parse_params(
    scope: BrandScope, view: ReportTypeView, raw: Mapping[str, Any]
) -> tuple[ReportParams, int | None]:
    """The parameters, checked; and the segment's id when one is given.
    Every problem is reported with its field (``["params", name]``)."""
    cls = view.cls
    known = set(cls.Params.model_fields)
    problems = [
        DomainError("INVALID", f"unknown parameter {name!r}", ["params", str(name)])
        for name in raw
        if name not in known or (name in FILTERS and name not in cls.filters)
    ]
    values = {k: v for k, v in raw.items() if k in known and v not in (None, "")}
    params = None
    try:
        params = cls.Params.model_validate(values)
    except ValidationError as exc:
        problems += [
            DomainError(
                "REQUIRED" if err["type"] == "missing" else "INVALID",
                err["msg"],
                ["params", *(str(part) for part in err["loc"])],
            )
            for err in exc.errors(include_url=False)
        ]
    segment_id = None
    if params is not None:
        if params.end < params.start:
            problems.append(DomainError("INVALID", "end is before start", ["params", "end"]))
        elif params.days() > cls.max_span_days:
            problems.append(
                DomainError(
                    "OUT_OF_RANGE",
                    f"the period spans {params.days()} days; at most {cls.max_span_days}",
                    ["params", "end"],
                )
            )
        if (
            params.tier is not None
            and not await scope.query(TierDefinition).filter(code=params.tier).exists()
        ):
            problems.append(
                DomainError("UNKNOWN_TIER", f"no tier {params.tier!r}", ["params", "tier"])
            )
        if params.segment is not None:
            segment = await scope.query(Segment).filter(name=params.segment).first()
            if segment is None:
                problems.append(
                    DomainError(
                        "NOT_FOUND",
                        f"no segment named {params.segment!r} (deleted?)",
                        ["params", "segment"],
                    )
                )
            else:
                segment_id = segment.id
    if problems:
        raise DomainErrors(problems)
    assert params is not None
    return params, segment_id


def _context(
    scope: BrandScope, connection: Any, segment_id: int | None, rollups: bool
) -> ReportContext:
    brand = scope.brand
    return ReportContext(
        brand=BrandInfo(brand.id, brand.code, brand.name, brand.currency, brand.timezone),
        connection=connection,
        money_exponent=exponent(brand.currency),
        now=datetime.now(UTC),
        segment_id=segment_id,
        rollups=rollups,
        scope=scope,
    )


async def run_report(
    scope: BrandScope,
    key: str,
    raw: Mapping[str, Any],
    *,
    use_cache: bool = True,
    rollups: bool | None = None,
) -> ReportRun:
    """Run an enabled report type. Bad parameters raise :class:`DomainError`
    (nothing recorded); a plugin that raises raises :class:`ReportFailed`
    and leaves its message as the feature's ``lastError``. ``rollups``
    False reads the raw orders even where the daily rollup is built (the
    answer is the same; tests and the bench compare the two)."""
    view = await report_type(scope, key)
    params, segment_id = await parse_params(scope, view, raw)
    connection = connections.get("default")
    version = await facts_version(connection)
    cache_key = (scope.brand_id, key, params.cache_key(), version)
    result = _CACHE.get(cache_key) if use_cache else None
    cached = result is not None
    if result is None:
        if rollups is None or rollups:
            rollups = await rollups_ready(scope)
        result = await _compute(scope, view, params, segment_id, connection, rollups)
        _CACHE.put(cache_key, result)
    result = await _with_targets(scope, key, params, result)
    return ReportRun(view, params, result, cached)


async def _compute(
    scope: BrandScope,
    view: ReportTypeView,
    params: ReportParams,
    segment_id: int | None,
    connection: Any,
    rollups: bool,
) -> ReportResult:
    rt = runtime.current()
    feature = await scope.query(BrandFeature).get(component_key=view.key, instance="")
    context = _context(scope, connection, segment_id, rollups)
    try:
        component = view.cls(load_config(view.cls, feature, rt.settings))
        earlier = params.shifted(params.comparison)
        if earlier is None:
            result = await component.run(context, params)
        else:
            # The two periods side by side, each on its own pooled connections.
            result, previous = await asyncio.gather(
                component.run(context, params), component.run(context, earlier)
            )
            result = merge_comparison(result, previous)
    except DomainError:
        raise
    except Exception as exc:
        log.exception("report %s failed", view.key, extra={"brand_id": scope.brand_id})
        message = f"report: {exc!r}"
        await (
            scope.query(BrandFeature)
            .filter(id=feature.id)
            .update(last_error=message[:2000], last_error_at=datetime.now(UTC))
        )
        raise ReportFailed(f"the report failed and is marked on its feature: {message}") from exc
    return result


def merge_comparison(result: ReportResult, previous: ReportResult) -> ReportResult:
    """``result`` with each figure's and series' comparison values taken from
    the same report run over the comparison period."""
    before = {f.key: f.value for f in previous.figures}
    before_series = {s.key: s.values for s in previous.series}
    return dataclasses.replace(
        result,
        figures=[dataclasses.replace(f, previous=before.get(f.key)) for f in result.figures],
        series=[
            dataclasses.replace(s, previous=list(before_series.get(s.key, ())))
            for s in result.series
        ],
    )


async def facts_version(connection: Any) -> tuple[Any, ...]:
    sql = "SELECT " + ", ".join(
        f"(SELECT MAX(id) FROM {table}) AS v{i}" for i, table in enumerate(FACT_TABLES)
    )
    _, rows = await connection.execute_query(sql)
    return tuple(rows[0]) if rows else ()


class _Lru:
    """Results by (brand, type, parameters, facts version), for a few minutes:
    the version catches new facts, the time limit the changes that add no row
    (a member's profile edited)."""

    def __init__(self) -> None:
        self._items: OrderedDict[tuple[Any, ...], tuple[float, ReportResult]] = OrderedDict()

    def get(self, key: tuple[Any, ...]) -> ReportResult | None:
        found = self._items.get(key)
        if found is None or time.monotonic() - found[0] > CACHE_SECONDS:
            return None
        self._items.move_to_end(key)
        return found[1]

    def put(self, key: tuple[Any, ...], value: ReportResult) -> None:
        self._items[key] = (time.monotonic(), value)
        self._items.move_to_end(key)
        while len(self._items) > CACHE_SIZE:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()


_CACHE = _Lru()


def clear_cache() -> None:
    _CACHE.clear()


# Targets


def _exact(text: str) -> Fraction:
    return Fraction(Decimal(text))


async def _with_targets(
    scope: BrandScope, key: str, params: ReportParams, result: ReportResult
) -> ReportResult:
    targets = {
        t.figure: _exact(t.value)
        for t in await scope.query(ReportTarget).filter(
            report_type=key, start=params.start, end=params.end
        )
    }
    if not targets:
        return result
    scale = 10 ** exponent(scope.brand.currency)

    def internal(figure: Figure) -> Fraction | None:
        # Targets are kept as people give them: money in currency units.
        target = targets.get(figure.key)
        if target is None or figure.unit is not Unit.MONEY:
            return target
        return target * scale

    return dataclasses.replace(
        result,
        figures=[dataclasses.replace(f, target=internal(f)) for f in result.figures],
    )


async def set_target(
    scope: BrandScope, key: str, figure: str, start: date, end: date, value: str | None
) -> ReportTarget | None:
    """Set (or, with ``value`` None, remove) the target of a figure for a
    period. The figure must be one the report returns."""
    await report_type(scope, key)
    problems = []
    if end < start:
        problems.append(DomainError("INVALID", "end is before start", ["end"]))
    exact = None
    if value is not None:
        try:
            exact = Decimal(value)
            if not exact.is_finite():
                raise InvalidOperation
        except InvalidOperation:
            problems.append(DomainError("INVALID", "not a decimal number", ["value"]))
    if problems:
        raise DomainErrors(problems)
    async with unit_of_work(scope) as uow:
        existing = (
            await scope.query(ReportTarget)
            .using_db(uow.connection)
            .get_or_none(report_type=key, figure=figure, start=start, end=end)
        )
        if exact is None:
            if existing is not None:
                await existing.delete(using_db=uow.connection)
            return None
        if existing is None:
            return await scope.create(
                ReportTarget,
                using_db=uow.connection,
                report_type=key,
                figure=figure,
                start=start,
                end=end,
                value=str(exact),
            )
        existing.value = str(exact)
        await existing.save(using_db=uow.connection)
        return existing


async def suggest_target(
    scope: BrandScope, key: str, figure: str, start: date, end: date
) -> Fraction | None:
    """The figure's value over the same period a year before: the usual
    starting point for a target."""
    params = {"start": start.isoformat(), "end": end.isoformat(), "comparison": "yoy"}
    run = await run_report(scope, key, params)
    for f in run.result.figures:
        if f.key == figure:
            return Fraction(f.previous) if f.previous is not None else None
    raise DomainError("INVALID", f"report {key!r} has no figure {figure!r}", ["figure"])
