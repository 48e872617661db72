"""A campaign's results: conversion and revenue of the members reached
against the holdout, the uplift with its confidence interval, cost, profit,
ROI, and the conversion curve after the send drawn by ECharts (served from
/admin/static). The numbers are ``campaignResults``'s (docs/campaign-attribution.md)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from starlette.responses import Response

from tessera.admin_ui.context import Ctx, errors_of
from tessera.admin_ui.i18n import N_
from tessera.admin_ui.registry import page
from tessera.auth.scopes import Scope
from tessera.campaigns import attribution
from tessera.campaigns.models import Campaign
from tessera.errors import DomainError
from tessera.orders.money import exponent
from tessera.reports.api import Unit
from tessera.reports.format import shown, to_decimal

GROUP_LABELS = {
    attribution.TREATED: N_("Members reached"),
    attribution.HOLDOUT: N_("Holdout"),
    attribution.UNREACHED: N_("Not reached"),
}


def _number(raw: str, kind: type[int] | type[Fraction], field: str) -> Any:
    if not raw:
        return None
    try:
        return int(raw) if kind is int else Fraction(Decimal(raw))
    except (ValueError, InvalidOperation):
        raise DomainError("INVALID", "not a number", [field]) from None


def _curve(results: attribution.CampaignResults, gettext: Any) -> dict[str, Any]:
    def numbers(values: Any) -> list[float | None]:
        return [None if v is None else float(to_decimal(v, Unit.RATIO, 0) or 0) for v in values]

    return {
        "title": gettext("Conversion after the send"),
        "kind": "line",
        "labels": [gettext("Day %(day)s") % {"day": d} for d in range(results.days)],
        "values": numbers(results.curve_treated),
        "previous": None,
        "lines": [
            {"name": gettext("Members reached"), "values": numbers(results.curve_treated)},
            {"name": gettext("Holdout"), "values": numbers(results.curve_holdout)},
        ],
        "percent": True,
    }


@page("/campaigns/{campaign_id}/results", "campaign_results", permission=Scope.READ)
async def campaign_results(ctx: Ctx) -> Response:
    campaign = await ctx.row(Campaign, "campaign_id")
    if campaign is None:
        return ctx.not_found()
    query = ctx.request.query_params
    form = {"days": query.get("days", ""), "margin": query.get("margin", "")}
    errors: dict[str, list[str]] = {}
    results = None
    try:
        results = await attribution.campaign_results(
            ctx.scope,
            campaign.id,
            days=_number(form["days"], int, "days"),
            margin=_number(form["margin"], Fraction, "margin"),
        )
    except DomainError as error:
        errors = errors_of(error)
    brand = ctx.scope.brand
    exp = exponent(brand.currency)
    renderer = "svg" if query.get("renderer") == "svg" else "canvas"
    return ctx.render(
        "campaign_results.html",
        title=campaign.name,
        campaign=campaign,
        results=results,
        form=form,
        errors=errors,
        group_labels=GROUP_LABELS,
        chart=_curve(results, ctx.gettext) if results else None,
        renderer=renderer,
        show=lambda value, unit: shown(value, unit, exp, brand.currency),
        money=Unit.MONEY,
        ratio=Unit.RATIO,
        count=Unit.COUNT,
        exact=lambda value: None if value is None else Fraction(value),
    )
