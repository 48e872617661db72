"""What a campaign brought: conversion and revenue of the treated members
against the holdout, uplift with its confidence interval, cost, profit, ROI
and the daily conversion curve (docs/campaign-attribution.md)."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from enum import Enum
from fractions import Fraction
from typing import Annotated

import strawberry
from strawberry.types import Info

from tessera.campaigns import attribution
from tessera.campaigns.attribution import CONFIDENCE, GroupResult
from tessera.campaigns.attribution import CampaignResults as Results
from tessera.campaigns.service import decimal_of
from tessera.orders.money import exponent
from tessera.reports.api import Unit
from tessera.reports.format import to_decimal
from tessera.schema.ids import decode_id, encode_id
from tessera.schema.orders.money import Money
from tessera.schema.permissions import CanRead

# Decimal places of rates, shares and p-values.
PLACES = 6


@strawberry.enum(description="A group of a campaign's recipients.")
class CampaignGroup(Enum):
    TREATED = "treated"
    HOLDOUT = "holdout"
    UNREACHED = "unreached"


@strawberry.type(description="One group's conversion and revenue within the window.")
class CampaignGroupResult:
    group: CampaignGroup = strawberry.field(
        description="TREATED: sent the message (window from its `sentAt`); HOLDOUT: kept out "
        "at random (window from their batch's first send); UNREACHED: neither (held by the "
        "gate, rejected, not sent yet), shown for the record and not compared."
    )
    members: int = strawberry.field(description="Recipients in the group.")
    converters: int = strawberry.field(description="Of them, with an order in their window.")
    conversion_rate: Decimal | None = strawberry.field(
        description="converters / members; null for an empty group."
    )
    orders: int = strawberry.field(description="Orders they placed in their windows.")
    revenue: Money = strawberry.field(
        description="Σ (amount paid − refunded) of those orders, as the sales report counts it."
    )
    revenue_per_member: Money | None = strawberry.field(
        description="revenue / members (rounded to the minor unit); null for an empty group."
    )


@strawberry.type(description="Treated against holdout.")
class CampaignUplift:
    absolute: Decimal | None = strawberry.field(
        description="Treated conversion rate − holdout conversion rate (0.02 is 2 points)."
    )
    relative: Decimal | None = strawberry.field(
        description="absolute / holdout rate (0.5 is +50%); null when the holdout rate is 0."
    )
    incremental_converters: Decimal | None = strawberry.field(
        description="absolute × treated members: conversions the message brought."
    )
    incremental_revenue: Money | None = strawberry.field(
        description="Treated revenue − holdout revenue per member × treated members."
    )
    confidence_level: Decimal = strawberry.field(description="Of the interval: 0.95.")
    confidence_low: Decimal | None = strawberry.field(
        description="Lower end of the interval of `absolute` (unpooled Wald)."
    )
    confidence_high: Decimal | None = strawberry.field(description="Upper end of the interval.")
    p_value: Decimal | None = strawberry.field(
        description="Two-sided pooled two-proportion z-test of no difference."
    )
    significant: bool | None = strawberry.field(
        description="p-value below 1 − confidence level; null without both groups."
    )


@strawberry.type(description="Cumulative conversion by the end of one day after the send.")
class CampaignCurvePoint:
    day: int = strawberry.field(description="0 is the first 24 hours after the send.")
    treated: Decimal | None = strawberry.field(description="Treated members converted so far.")
    holdout: Decimal | None = strawberry.field(description="Holdout members converted so far.")


@strawberry.type(description="What a campaign brought, against its holdout.")
class CampaignResults:
    campaign_id: strawberry.ID = strawberry.field(description="The campaign.")
    days: int = strawberry.field(description="The window: days after each member's send.")
    groups: list[CampaignGroupResult] = strawberry.field(
        description="TREATED, HOLDOUT, UNREACHED, in that order."
    )
    uplift: CampaignUplift = strawberry.field(description="Treated against holdout.")
    messages_sent: int = strawberry.field(description="Messages the provider took.")
    cost: Money = strawberry.field(description="messagesSent × the campaign's cost per message.")
    margin: Decimal = strawberry.field(
        description="The gross margin used: the `margin` argument, else the `gross_margin` of "
        "the brand's campaign effect report, else 1."
    )
    profit: Money | None = strawberry.field(
        description="incrementalRevenue × margin; null without a holdout."
    )
    roi: Decimal | None = strawberry.field(
        description="profit / cost; null when the cost is 0 or there is no holdout."
    )
    curve: list[CampaignCurvePoint] = strawberry.field(
        description="Day 0 to days − 1; the last point is the window's conversion."
    )


def _rate(value: Fraction | float | None) -> Decimal | None:
    if value is None:
        return None
    exact = Fraction(value)
    return (Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(
        Decimal(1).scaleb(-PLACES), rounding=ROUND_HALF_EVEN
    )


def _money(value: Fraction | int | None, currency: str) -> Money | None:
    if value is None:
        return None
    exp = exponent(currency)
    amount = to_decimal(value, Unit.MONEY, exp)
    assert amount is not None
    return Money(
        amount=amount.quantize(Decimal(1).scaleb(-exp), ROUND_HALF_EVEN), currency=currency
    )


def _group(group: GroupResult, currency: str) -> CampaignGroupResult:
    revenue = _money(group.revenue, currency)
    assert revenue is not None
    return CampaignGroupResult(
        group=CampaignGroup(group.name),
        members=group.members,
        converters=group.converters,
        conversion_rate=_rate(group.conversion),
        orders=group.orders,
        revenue=revenue,
        revenue_per_member=_money(group.revenue_per_member, currency),
    )


def results_type(results: Results, currency: str) -> CampaignResults:
    up = results.uplift
    cost = _money(results.cost, currency)
    assert cost is not None
    return CampaignResults(
        campaign_id=strawberry.ID(encode_id("Campaign", results.campaign_id)),
        days=results.days,
        groups=[_group(g, currency) for g in results.groups],
        uplift=CampaignUplift(
            absolute=_rate(up.absolute),
            relative=_rate(up.relative),
            incremental_converters=_rate(up.incremental_converters),
            incremental_revenue=_money(up.incremental_revenue, currency),
            confidence_level=_rate(CONFIDENCE) or Decimal(0),
            confidence_low=_rate(up.ci_low),
            confidence_high=_rate(up.ci_high),
            p_value=_rate(up.p_value),
            significant=up.significant,
        ),
        messages_sent=results.messages_sent,
        cost=cost,
        margin=_rate(results.margin) or Decimal(0),
        profit=_money(results.profit, currency),
        roi=_rate(results.roi),
        curve=[
            CampaignCurvePoint(day=d, treated=_rate(t), holdout=_rate(h))
            for d, (t, h) in enumerate(
                zip(results.curve_treated, results.curve_holdout, strict=True)
            )
        ],
    )


@strawberry.type
class CampaignResultsQuery:
    @strawberry.field(
        description="What a campaign brought: orders of its recipients within `days` days of "
        "their send (default: the campaign's attribution days) against the holdout. Null for "
        "an id that is not one of the brand's campaigns. Needs the read scope.",
        permission_classes=[CanRead],
    )
    async def campaign_results(
        self,
        info: Info,
        campaign_id: strawberry.ID,
        days: Annotated[
            int | None,
            strawberry.argument(description=f"1 to {attribution.MAX_DAYS}; overrides the window."),
        ] = None,
        margin: Annotated[
            Decimal | None,
            strawberry.argument(description="Gross margin, 0 to 1; overrides the brand's."),
        ] = None,
    ) -> CampaignResults | None:
        scope = info.context.scope
        pk = decode_id(str(campaign_id), "Campaign")
        attribution.check_days(days, ["days"])
        # The Decimal scalar hands the argument on as the caller wrote it.
        exact = None if margin is None else Fraction(decimal_of(margin, "margin"))
        attribution.check_margin(exact, ["margin"])
        if pk is None:
            return None
        from tessera.errors import DomainError

        try:
            results = await attribution.campaign_results(scope, pk, days=days, margin=exact)
        except DomainError as error:
            if error.code == "NOT_FOUND":
                return None
            raise
        return results_type(results, scope.brand.currency)
