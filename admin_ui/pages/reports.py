"""Reports: the brand's enabled report types, one report with its
parameters, figures, charts (ECharts, served from /admin/static) and tables,
and each table as CSV or XLSX (docs/reports.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from starlette.responses import Response

from tessera.admin_ui.context import Ctx, errors_of
from tessera.admin_ui.i18n import N_
from tessera.admin_ui.registry import page
from tessera.auth.scopes import Scope
from tessera.errors import DomainError
from tessera.orders.money import exponent
from tessera.reports import service
from tessera.reports.api import FILTERS, Buyer, Comparison, Granularity, Unit
from tessera.reports.export import table_csv, table_xlsx
from tessera.reports.format import shown, to_decimal
from tessera.segments.models import Segment
from tessera.segments.timewindows import local_today
from tessera.tiers.models import TierDefinition

PARAM_NAMES = ("start", "end", "comparison", "granularity", *FILTERS)
# The built-in report types' titles and labels (plugins/reports), translated
# here because the page shows a plugin's texts through gettext.
BUILT_IN_TEXTS = (
    N_("Sales overview"),
    N_(
        "Sales, orders, buyers and units, with their averages, discount depth and "
        "members' share of sales."
    ),
    N_("Member growth"),
    N_("New members by join channel and source, the running total, first purchases."),
    N_("Retention and repurchase"),
    N_("Monthly cohorts of first purchases, repurchase of old customers, time between orders."),
    N_("Lifecycle and RFM"),
    N_(
        "Members by lifecycle stage and by RFM score, as last computed; flows between "
        "stages over the period."
    ),
    N_("Tiers"),
    N_("Members per tier now; upgrades and downgrades in the period."),
    N_("Loyalty liability"),
    N_("Points and stored value outstanding, points flows, coupon redemption."),
    N_("Sales"),
    N_("Orders"),
    N_("Buyers"),
    N_("Units"),
    N_("Spend per buyer"),
    N_("ASPT (AOV)"),
    N_("ASPU"),
    N_("UPT"),
    N_("Discount depth"),
    N_("Member share of sales"),
    N_("By join channel and source"),
    N_("Cohorts by month of first purchase (buyers in each month since)"),
    N_("New members"),
    N_("Members"),
    N_("Converted"),
    N_("Conversion to first purchase"),
    N_("Members (cumulative)"),
    N_("Old customers"),
    N_("Repurchasers"),
    N_("Repurchase rate"),
    N_("Days between orders"),
    N_("Share of sales"),
    N_("Join channel"),
    N_("Join source"),
    N_("Conversion"),
    N_("Cohort"),
    N_("Members scored"),
    N_("By lifecycle stage"),
    N_("By RFM score"),
    N_("Members in a tier"),
    N_("Upgrades"),
    N_("Downgrades"),
    N_("Members per tier"),
    N_("Tier changes in the period"),
    N_("Points outstanding"),
    N_("Points issued"),
    N_("Points redeemed"),
    N_("Points expired"),
    N_("Expiring in 30 days"),
    N_("Expiring in 90 days"),
    N_("Stored value outstanding"),
    N_("Coupons issued"),
    N_("Coupons redeemed"),
    N_("Coupon redemption rate"),
    N_("Stage"),
    N_("Share"),
    N_("Tier"),
    N_("From"),
    N_("To"),
    N_("Reason"),
    N_("Changes"),
    N_("By store"),
    N_("By channel"),
    N_("Store"),
    N_("Channel"),
    N_("Stage flows over the period (stage at the start → at the end)"),
    N_("Campaign effect"),
    N_(
        "Campaigns launched in the period: conversion and revenue within their attribution "
        "window against the holdout, uplift, cost, profit and ROI, and the conversion curve "
        "after the send."
    ),
    N_("Campaigns"),
    N_("Messages sent"),
    N_("Members reached"),
    N_("Holdout conversion"),
    N_("Uplift"),
    N_("Revenue"),
    N_("Incremental revenue"),
    N_("Cost"),
    N_("Profit"),
    N_("ROI"),
    N_("Conversion after the send (members reached)"),
    N_("Conversion after the send (holdout)"),
    N_("Campaign"),
    N_("Launched"),
    N_("Window (days)"),
    N_("Holdout"),
    N_("p-value"),
    N_(
        "Each campaign counts the orders placed within its attribution window after "
        "each member's send; holdout members' windows start when their batch started "
        "sending. Revenue is net of refunds known now."
    ),
    N_(
        "Stages and RFM scores are the current ones (the nightly lifecycle job); the "
        "flows compute each member's stage at the period's start and end from the "
        "orders placed until then."
    ),
)
N_("none")
N_("previous_period")
N_("yoy")
N_("mom")
N_("day")
N_("week")
N_("month")
N_("member")
N_("non_member")


@page("/reports", "reports", title=N_("Reports"), nav_group="Overview")
async def reports(ctx: Ctx) -> Response:
    return ctx.render(
        "reports.html", title=N_("Reports"), types=await service.report_types(ctx.scope)
    )


def _params(ctx: Ctx) -> dict[str, str]:
    """The parameters in the query string; the month so far by default."""
    query = ctx.request.query_params
    values = {name: query[name] for name in PARAM_NAMES if query.get(name)}
    today = local_today(datetime.now(UTC), ctx.scope.brand.timezone)
    values.setdefault("start", today.replace(day=1).isoformat())
    values.setdefault("end", today.isoformat())
    return values


def _chart_data(series: Any, exp: int, gettext: Any) -> dict[str, Any]:
    def numbers(values: Any) -> list[float | None]:
        out = []
        for v in values:
            d = to_decimal(v, series.unit, exp)
            out.append(None if d is None else float(d))
        return out

    return {
        "title": gettext(series.label),
        "kind": series.chart,
        "labels": list(series.labels),
        "values": numbers(series.values),
        "previous": None if series.previous is None else numbers(series.previous),
        "name": gettext("This period"),
        "previousName": gettext("Comparison period"),
        "percent": series.unit is Unit.RATIO,
    }


@page("/reports/{report}", "report")
async def report(ctx: Ctx) -> Response:
    key = ctx.request.path_params["report"]
    try:
        view = await service.report_type(ctx.scope, key)
    except DomainError:
        return ctx.not_found()
    params = _params(ctx)
    run = None
    errors: dict[str, list[str]] = {}
    try:
        run = await service.run_report(ctx.scope, key, params)
    except DomainError as error:
        errors = errors_of(error)
    if run is not None and ctx.request.query_params.get("export"):
        return _export(ctx, run)
    brand = ctx.scope.brand
    exp = exponent(brand.currency)
    renderer = "svg" if ctx.request.query_params.get("renderer") == "svg" else "canvas"
    return ctx.render(
        "report.html",
        title=view.title,
        view=view,
        params=params,
        errors=errors,
        run=run,
        charts=[_chart_data(s, exp, ctx.gettext) for s in run.result.series] if run else [],
        renderer=renderer,
        show=lambda value, unit: shown(value, unit, exp, brand.currency),
        ratio=Unit.RATIO,
        filters=sorted(view.cls.filters),
        comparisons=[c.value for c in Comparison],
        granularities=[g.value for g in Granularity],
        buyers=[b.value for b in Buyer],
        tiers=await ctx.scope.query(TierDefinition).order_by("rank"),
        segments=await ctx.scope.query(Segment).order_by("name"),
        query=ctx.request.url.query,
        can_set_targets=ctx.can(Scope.MANAGE),
    )


def _export(ctx: Ctx, run: service.ReportRun) -> Response:
    """One table of the report as CSV or XLSX (``?export=<table>&format=xlsx``)."""
    wanted = ctx.request.query_params.get("export", "")
    table = next((t for t in run.result.tables if t.key == wanted), None)
    if table is None:
        return ctx.not_found()
    exp = exponent(ctx.scope.brand.currency)
    name = f"{run.type.key}-{table.key}-{run.params.start}-{run.params.end}"
    if ctx.request.query_params.get("format") == "xlsx":
        body = table_xlsx(table, exp)
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        name += ".xlsx"
    else:
        body = table_csv(table, exp)
        media = "text/csv; charset=utf-8"
        name += ".csv"
    return Response(
        body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@page("/reports/{report}/target", "report_target", permission=Scope.MANAGE, methods=("POST",))
async def report_target(ctx: Ctx) -> Response:
    """Set (or with an empty value remove) the target of one figure for the
    period the page shows, then show the page again."""
    key = ctx.request.path_params["report"]
    form = await ctx.form()
    back = str(form.get("back", ""))
    values = {name: str(form.get(name, "")) for name in ("figure", "value", "start", "end")}
    try:
        await service.report_type(ctx.scope, key)
    except DomainError:
        return ctx.not_found()
    try:
        start, end = date.fromisoformat(values["start"]), date.fromisoformat(values["end"])
        await ctx.audited(
            "setReportTarget",
            {"type": key, **values},
            lambda: service.set_target(
                ctx.scope, key, values["figure"], start, end, values["value"].strip() or None
            ),
        )
        ctx.flash(ctx.gettext("Target saved."))
    except ValueError:
        ctx.flash(ctx.gettext("Dates must be YYYY-MM-DD."), "bad")
    except DomainError as error:
        ctx.flash("; ".join(m for ms in errors_of(error).values() for m in ms), "bad")
    return ctx.redirect(ctx.url("report", report=key) + ("?" + back if back else ""))
