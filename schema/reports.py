"""Reports: the report types enabled on the brand, running one, KPI targets
(docs/reports.md)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Annotated, cast

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from tessera.orders.money import exponent
from tessera.reports import service
from tessera.reports.api import Unit
from tessera.reports.format import cell, to_decimal
from tessera.schema.errors import ErrorsInPayload, UserError
from tessera.schema.permissions import CanManage, CanRead


@strawberry.enum(description="What a report number counts.")
class ReportUnit(Enum):
    MONEY = "money"
    COUNT = "count"
    ITEMS = "items"
    RATIO = "ratio"
    DAYS = "days"
    POINTS = "points"
    TEXT = "text"


@strawberry.type(description="A report type enabled on this brand.")
class ReportTypeInfo:
    key: str = strawberry.field(description="Pass as `report(type:)`.")
    title: str = strawberry.field(description="Short name.")
    description: str = strawberry.field(description="What it shows.")
    params_schema: JSON = strawberry.field(
        description="JSON Schema of `report(params:)`: dates on the brand's calendar, "
        "comparison, granularity and the filters this type takes."
    )
    last_error: str | None = strawberry.field(
        description="The last failure of the report's plugin on this brand, if any."
    )


@strawberry.type(description="One named number of a report.")
class ReportFigure:
    key: str = strawberry.field(description="Stable key, e.g. `sales`, `aspt`.")
    label: str = strawberry.field(description="Name for people (English).")
    unit: ReportUnit = strawberry.field(description="Money is in currency units (`currency`).")
    definition: str = strawberry.field(description="How it is computed.")
    value: Decimal | None = strawberry.field(description="Null when undefined (a share of 0).")
    previous: Decimal | None = strawberry.field(
        description="Over the comparison period, by the same computation."
    )
    change: Decimal | None = strawberry.field(
        description="(value − previous) / previous, 0.1 is +10%; null without a comparison."
    )
    target: Decimal | None = strawberry.field(
        description="The KPI target set for exactly this period."
    )
    progress: Decimal | None = strawberry.field(description="value / target; 1 is reached.")


@strawberry.type(description="A number per time bucket.")
class ReportSeries:
    key: str = strawberry.field(description="Stable key.")
    label: str = strawberry.field(description="Name for people.")
    unit: ReportUnit = strawberry.field(description="Unit of the values.")
    chart: str = strawberry.field(description="`line` or `bar`.")
    labels: list[str] = strawberry.field(description="The buckets' first days (months: YYYY-MM).")
    values: list[Decimal | None] = strawberry.field(description="One per bucket.")
    previous: list[Decimal | None] | None = strawberry.field(
        description="The comparison period's, bucket by bucket."
    )


@strawberry.type(description="A column of a report table.")
class ReportColumn:
    key: str = strawberry.field(description="Stable key.")
    label: str = strawberry.field(description="Heading.")
    unit: ReportUnit = strawberry.field(description="Unit of the column's cells.")


@strawberry.type(description="A table of a report.")
class ReportTable:
    key: str = strawberry.field(description="Stable key.")
    label: str = strawberry.field(description="Title.")
    columns: list[ReportColumn] = strawberry.field(description="The columns.")
    rows: list[list[str | None]] = strawberry.field(
        description="Cells as text: numbers as decimals in their column's unit."
    )


@strawberry.type(description="A report's result, or why it could not be run.")
class Report:
    type: str | None = strawberry.field(default=None, description="The report type's key.")
    currency: str | None = strawberry.field(default=None, description="Currency of money.")
    figures: list[ReportFigure] = strawberry.field(default_factory=list, description="Figures.")
    series: list[ReportSeries] = strawberry.field(default_factory=list, description="Series.")
    tables: list[ReportTable] = strawberry.field(default_factory=list, description="Tables.")
    notes: list[str] = strawberry.field(default_factory=list, description="Caveats.")
    cached: bool = strawberry.field(
        default=False, description="Served from the cache (no new facts since)."
    )
    errors: list[UserError] = strawberry.field(
        description='Bad parameters (`["params", name]`), or REPORT_FAILED.'
    )


def _d(value: object, unit: Unit, exp: int) -> Decimal | None:
    return to_decimal(value, unit, exp)


def report_from_run(run: service.ReportRun, currency: str) -> Report:
    exp = exponent(currency)
    result = run.result
    return Report(
        type=run.type.key,
        currency=currency,
        figures=[
            ReportFigure(
                key=f.key,
                label=f.label,
                unit=ReportUnit(f.unit.value),
                definition=f.definition,
                value=_d(f.value, f.unit, exp),
                previous=_d(f.previous, f.unit, exp),
                change=to_decimal(f.change, Unit.RATIO, exp),
                target=_d(f.target, f.unit, exp),
                progress=to_decimal(f.progress, Unit.RATIO, exp),
            )
            for f in result.figures
        ],
        series=[
            ReportSeries(
                key=s.key,
                label=s.label,
                unit=ReportUnit(s.unit.value),
                chart=s.chart,
                labels=list(s.labels),
                values=[_d(v, s.unit, exp) for v in s.values],
                previous=None if s.previous is None else [_d(v, s.unit, exp) for v in s.previous],
            )
            for s in result.series
        ],
        tables=[
            ReportTable(
                key=t.key,
                label=t.label,
                columns=[
                    ReportColumn(key=c.key, label=c.label, unit=ReportUnit(c.unit.value))
                    for c in t.columns
                ],
                rows=[
                    [cell(v, c.unit, exp) for v, c in zip(row, t.columns, strict=True)]
                    for row in t.rows
                ],
            )
            for t in result.tables
        ],
        notes=list(result.notes),
        cached=run.cached,
        errors=[],
    )


@strawberry.input(description="Set or remove the KPI target of a report figure for a period.")
class SetReportTargetInput:
    type: str = strawberry.field(description="Report type key.")
    figure: str = strawberry.field(description="Figure key, e.g. `sales`.")
    start: date = strawberry.field(description="First day of the period (brand's calendar).")
    end: date = strawberry.field(description="Last day, included.")
    value: Decimal | None = strawberry.field(
        default=None,
        description="The target in the figure's unit (money in currency units, ratios as "
        "0.25); null removes it.",
    )


@strawberry.type(description="Result of `setReportTarget`.")
class SetReportTargetPayload:
    value: Decimal | None = strawberry.field(default=None, description="The target as stored.")
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")


@strawberry.type
class ReportsQuery:
    @strawberry.field(
        description="The report types enabled on this brand, with their parameters' schemas.",
        permission_classes=[CanRead],
    )
    async def report_types(self, info: Info) -> list[ReportTypeInfo]:
        return [
            ReportTypeInfo(
                key=v.key,
                title=v.title,
                description=v.description,
                params_schema=cast(JSON, v.params_schema()),
                last_error=v.last_error,
            )
            for v in await service.report_types(info.context.scope)
        ]

    @strawberry.field(
        description="Run a report: figures (with the comparison period's and targets), "
        "series and tables. Results are cached until new facts arrive.",
        permission_classes=[CanRead],
        extensions=[ErrorsInPayload(prefix=())],
    )
    async def report(
        self,
        info: Info,
        type: Annotated[str, strawberry.argument(description="A key from `reportTypes`.")],
        params: Annotated[
            JSON,
            strawberry.argument(
                description='e.g. {"start": "2025-01-01", "end": "2025-12-31", '
                '"comparison": "yoy", "granularity": "month"}'
            ),
        ],
    ) -> Report:
        from tessera.errors import DomainError

        if not isinstance(params, dict):
            raise DomainError("INVALID", "params must be a JSON object", ["params"])
        scope = info.context.scope
        run = await service.run_report(scope, type, params)
        return report_from_run(run, scope.brand.currency)


@strawberry.type
class ReportsMutation:
    @strawberry.mutation(
        description="Set (or with a null value remove) a KPI target: a report run over "
        "exactly that period shows it and the share reached. Needs the manage scope.",
        permission_classes=[CanManage],
    )
    async def set_report_target(
        self, info: Info, input: SetReportTargetInput
    ) -> SetReportTargetPayload:
        scope = info.context.scope
        value = input.value
        stored = await service.set_target(
            scope,
            input.type,
            input.figure,
            input.start,
            input.end,
            None if value is None else str(value),
        )
        return SetReportTargetPayload(value=None if stored is None else input.value, errors=[])
