"""What a campaign brought: the orders of its recipients within N days of
the send, against the holdout (docs/campaign-attribution.md).

Groups, per campaign:

- ``treated``: recipients whose message the provider took (``sent_at`` set);
  their clock starts at that instant;
- ``holdout``: recipients kept out at random; they have no message, so their
  clock starts when their batch started sending (the first ``sent_at`` of a
  treated member of the same batch), or at the campaign's launch when the
  batch sent nothing. Both groups are drawn from the same snapshot and
  batches, so a holdout member's window covers the same calendar days as a
  treated member's of the same batch: a weekend or a sale in the window
  counts on both sides alike;
- ``unreached``: the other recipients (the gate held the message, the
  provider refused it, or it is not sent yet), shown for the record and
  left out of the comparison, with the batch clock of the holdout.

A recipient *converts* with an order placed in ``[start, start + N days)``;
revenue is the sales report's: Σ (amount paid − refunded), refunds as known
now. Everything is aggregated in one SQL statement per call, grouped by
(campaign, group, day of first order): Python only adds up a few rows per
campaign.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from tessera.campaigns.models import Campaign
from tessera.db import stored_time
from tessera.errors import DomainError
from tessera.orders.money import exponent
from tessera.reports.api import Query, ratio, scope_query
from tessera.scope import BrandScope

TREATED = "treated"
HOLDOUT = "holdout"
UNREACHED = "unreached"
GROUPS = (TREATED, HOLDOUT, UNREACHED)
MAX_DAYS = 90
# The report type whose feature config holds the brand's gross margin.
EFFECT_REPORT = "reports.campaign_effect"
DEFAULT_MARGIN = Fraction(1)
CONFIDENCE = 0.95


@dataclass(frozen=True)
class GroupResult:
    """One group's figures; money in minor units."""

    name: str
    members: int
    converters: int
    orders: int
    revenue: int

    @property
    def conversion(self) -> Fraction | None:
        return ratio(self.converters, self.members)

    @property
    def revenue_per_member(self) -> Fraction | None:
        return ratio(self.revenue, self.members)


@dataclass(frozen=True)
class Uplift:
    """Treated against holdout. ``absolute`` is the difference of the
    conversion rates, ``relative`` that difference over the holdout's rate;
    ``incremental_revenue`` the treated group's revenue less what it would
    have bought at the holdout's revenue per member (minor units);
    ``ci_low``/``ci_high`` the 95% interval of ``absolute`` and ``p_value``
    the two-sided test of "no difference" (None without both groups)."""

    absolute: Fraction | None
    relative: Fraction | None
    incremental_converters: Fraction | None
    incremental_revenue: Fraction | None
    z: float | None
    p_value: float | None
    ci_low: float | None
    ci_high: float | None

    @property
    def significant(self) -> bool | None:
        return None if self.p_value is None else self.p_value < 1 - CONFIDENCE


@dataclass(frozen=True)
class CampaignResults:
    """A campaign's attribution over ``days`` days after each send."""

    campaign_id: int
    name: str
    launched_at: datetime | None
    days: int
    margin: Fraction
    treated: GroupResult
    holdout: GroupResult
    unreached: GroupResult
    messages_sent: int
    cost: Fraction  # minor units
    uplift: Uplift
    # Cumulative conversion by the end of day d (d = 0 .. days-1) after the
    # send, per group; the last is the window's conversion.
    curve_treated: Sequence[Fraction | None]
    curve_holdout: Sequence[Fraction | None]

    @property
    def groups(self) -> tuple[GroupResult, GroupResult, GroupResult]:
        return (self.treated, self.holdout, self.unreached)

    @property
    def profit(self) -> Fraction | None:
        """Incremental revenue × gross margin (minor units), before the cost."""
        revenue = self.uplift.incremental_revenue
        return None if revenue is None else revenue * self.margin

    @property
    def roi(self) -> Fraction | None:
        """profit / cost; None when nothing cost anything or there is no holdout."""
        return ratio(self.profit, self.cost)


def two_proportions(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float, float, float]:
    """``(z, p_value, ci_low, ci_high)`` for p1 − p2: the pooled two-proportion
    z-test (two-sided) and the unpooled Wald interval at 95%, the textbook
    pair for A/B conversion rates. Needs n1, n2 > 0."""
    from scipy.stats import norm

    p1, p2 = x1 / n1, x2 / n2
    diff = p1 - p2
    pooled = (x1 + x2) / (n1 + n2)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se0 == 0:  # both all or nothing: no evidence of a difference
        z, p_value = 0.0, 1.0
    else:
        z = diff / se0
        p_value = float(2 * norm.sf(abs(z)))
    half = float(norm.ppf(0.5 + CONFIDENCE / 2)) * math.sqrt(
        p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2
    )
    return z, p_value, diff - half, diff + half


def uplift_of(treated: GroupResult, holdout: GroupResult) -> Uplift:
    if not treated.members or not holdout.members:
        return Uplift(None, None, None, None, None, None, None, None)
    t_rate = Fraction(treated.converters, treated.members)
    h_rate = Fraction(holdout.converters, holdout.members)
    absolute = t_rate - h_rate
    z, p_value, low, high = two_proportions(
        treated.converters, treated.members, holdout.converters, holdout.members
    )
    return Uplift(
        absolute=absolute,
        relative=ratio(absolute, h_rate),
        incremental_converters=absolute * treated.members,
        incremental_revenue=treated.revenue
        - Fraction(holdout.revenue, holdout.members) * treated.members,
        z=z,
        p_value=p_value,
        ci_low=low,
        ci_high=high,
    )


def _elapsed(q: Query, later: str, earlier: str) -> str:
    """Days (fractional) from ``earlier`` to ``later``, two stored instants."""
    if q.postgres:
        return f"(EXTRACT(EPOCH FROM ({later} - {earlier})) / 86400.0)"
    return f"(julianday({later}) - julianday({earlier}))"


def _whole_days(q: Query, days: str) -> str:
    # Non-negative here, so SQLite's truncating CAST is the floor.
    return f"FLOOR({days})::int" if q.postgres else f"CAST({days} AS INTEGER)"


def _statement(
    q: Query,
    brand_id: int,
    where: str,
    days: int | None,
    span: tuple[datetime, datetime] | None = None,
) -> str:
    """Rows ``(campaign_id, grp, day, members, orders, revenue)``: recipients
    counted by campaign, group and the day (since their start) of their
    first order in the window, ``day`` NULL for those without one. ``where``
    restricts ``campaign c``; ``days`` overrides each campaign's window;
    ``span`` (:func:`window_span`), when given, holds every window."""
    brand = q(brand_id)
    window = q(days) if days is not None else "c.attribution_days"
    # One pass over the recipients and their messages: the batch clock (when
    # each batch's first message went out) is a window over the same rows,
    # where a grouped subquery read the messages a second time.
    sends = (
        "SELECT r.campaign_id AS campaign_id, r.member_id AS member_id, "
        f"r.holdout AS holdout, {window} AS n_days, c.launched_at AS launched_at, "
        "CASE WHEN r.holdout THEN NULL ELSE m.sent_at END AS sent_at, "
        "MIN(m.sent_at) OVER (PARTITION BY r.campaign_id, r.batch) AS batch_at "
        "FROM campaign_recipient r JOIN campaign c ON c.id = r.campaign_id "
        f"AND c.brand_id = {brand} "
        f"LEFT JOIN message m ON m.id = r.message_id AND m.brand_id = {brand} "
        f"WHERE r.brand_id = {brand} AND {where}"
    )
    recipients = (
        "SELECT s.campaign_id AS campaign_id, s.member_id AS member_id, "
        f"CASE WHEN s.holdout THEN '{HOLDOUT}' WHEN s.sent_at IS NOT NULL THEN '{TREATED}' "
        f"ELSE '{UNREACHED}' END AS grp, s.n_days AS n_days, "
        "CASE WHEN s.holdout THEN COALESCE(s.batch_at, s.launched_at) "
        "ELSE COALESCE(s.sent_at, s.batch_at, s.launched_at) END AS t0 "
        f"FROM ({sends}) s"
    )
    elapsed = _elapsed(q, "o.occurred_at", "x.t0")
    if q.postgres:
        # Both bounds on the order's time: an index range per member. A day
        # is 24 hours here, as in the elapsed days (not the session's
        # calendar day, which daylight saving stretches).
        within = "o.occurred_at < x.t0 + x.n_days * INTERVAL '24 hours'"
    else:
        within = f"{elapsed} < x.n_days"
    # Only the orders of the windows' span are read: a range of the (brand,
    # time) index for a few campaigns' windows, where the join read every
    # order of the brand (seconds at 10M orders); bound as values, so the
    # planner sees how many orders the range holds.
    bounds = ""
    if span is not None:
        bounds = f"AND o.occurred_at >= {q(span[0])} AND o.occurred_at < {q(span[1])} "
    per_member = (
        "SELECT x.campaign_id AS campaign_id, x.grp AS grp, COUNT(o.id) AS n, "
        "COALESCE(SUM(o.amount_paid - o.refunded_amount), 0) AS revenue, "
        f"MIN({elapsed}) AS first_day FROM ({recipients}) x "
        f"LEFT JOIN sales_order o ON o.brand_id = {brand} AND o.member_id = x.member_id "
        f"AND o.occurred_at >= x.t0 AND {within} {bounds}"
        "GROUP BY x.campaign_id, x.grp, x.member_id"
    )
    return (
        "SELECT p.campaign_id AS campaign_id, p.grp AS grp, "
        f"CASE WHEN p.n > 0 THEN {_whole_days(q, 'p.first_day')} END AS day, "
        "COUNT(*) AS members, SUM(p.n) AS orders, SUM(p.revenue) AS revenue "
        f"FROM ({per_member}) p GROUP BY p.campaign_id, p.grp, "
        f"CASE WHEN p.n > 0 THEN {_whole_days(q, 'p.first_day')} END"
    )


@dataclass(frozen=True)
class Sends:
    """When a campaign's messages went out, and how many may still go."""

    first: datetime | None
    last: datetime | None
    pending: int


# A message that may still be sent (and so move its member to the treated).
PENDING = ("queued", "deferred")


async def sends_of(scope: BrandScope, ids: Sequence[int]) -> dict[int, Sends]:
    """Per campaign of ``ids`` with a decided message: its first and last
    send and its messages still queued or deferred, in one statement."""
    if not ids:
        return {}
    q = scope_query(scope)
    brand = q(scope.brand_id)
    listed = ", ".join(q(i) for i in ids)
    rows = await q.rows(
        "SELECT r.campaign_id AS campaign_id, MIN(m.sent_at) AS first_sent, "
        "MAX(m.sent_at) AS last_sent, SUM(CASE WHEN m.sent_at IS NULL AND m.status IN "
        f"({', '.join(q(s) for s in PENDING)}) THEN 1 ELSE 0 END) AS pending "
        "FROM campaign_recipient r JOIN message m ON m.id = r.message_id "
        f"AND m.brand_id = {brand} WHERE r.brand_id = {brand} AND r.campaign_id IN ({listed}) "
        "GROUP BY r.campaign_id"
    )
    return {
        int(r["campaign_id"]): Sends(
            None if r["first_sent"] is None else stored_time(r["first_sent"]),
            None if r["last_sent"] is None else stored_time(r["last_sent"]),
            int(r["pending"] or 0),
        )
        for r in rows
    }


def window_of(campaign: Campaign, sends: Sends | None, days: int) -> tuple[datetime, datetime]:
    """The instants all the campaign's windows lie within: from its launch
    (or an earlier send) to ``days`` after its last send (or launch). A
    message still to be sent moves the end."""
    assert campaign.launched_at is not None
    first = last = campaign.launched_at
    if sends is not None and sends.first is not None and sends.last is not None:
        first, last = min(first, sends.first), max(last, sends.last)
    return first, last + timedelta(days=days)


async def window_span(
    scope: BrandScope, campaigns: Sequence[Campaign], days: int | None
) -> tuple[datetime, datetime] | None:
    """The instants every window of ``campaigns`` lies within, as far as
    their messages have gone out; None when none launched (no window)."""
    launched = [c for c in campaigns if c.launched_at is not None]
    if not launched:
        return None
    sends = await sends_of(scope, [c.id for c in launched])
    windows = [
        window_of(c, sends.get(c.id), days if days is not None else c.attribution_days)
        for c in launched
    ]
    return min(a for a, _ in windows), max(b for _, b in windows)


def _results(
    campaign: Campaign,
    rows: list[dict[str, Any]],
    days: int,
    margin: Fraction,
    scale: int,
) -> CampaignResults:
    totals = {g: [0, 0, 0, 0] for g in GROUPS}  # members, converters, orders, revenue
    first_days: dict[str, list[int]] = {g: [0] * days for g in GROUPS}
    for row in rows:
        group = str(row["grp"])
        members = int(row["members"])
        total = totals[group]
        total[0] += members
        total[2] += int(row["orders"] or 0)
        total[3] += int(row["revenue"] or 0)
        if row["day"] is not None:
            total[1] += members
            first_days[group][min(int(row["day"]), days - 1)] += members
    groups = {g: GroupResult(g, *totals[g]) for g in GROUPS}

    def curve(group: str) -> list[Fraction | None]:
        out, running = [], 0
        for count in first_days[group]:
            running += count
            out.append(ratio(running, groups[group].members))
        return out

    return CampaignResults(
        campaign_id=campaign.id,
        name=campaign.name,
        launched_at=campaign.launched_at,
        days=days,
        margin=margin,
        treated=groups[TREATED],
        holdout=groups[HOLDOUT],
        unreached=groups[UNREACHED],
        # The treated are exactly the recipients whose message was sent.
        messages_sent=groups[TREATED].members,
        cost=groups[TREATED].members * Fraction(Decimal(campaign.cost_per_message)) * scale,
        uplift=uplift_of(groups[TREATED], groups[HOLDOUT]),
        curve_treated=curve(TREATED),
        curve_holdout=curve(HOLDOUT),
    )


def check_days(days: int | None, field: list[str]) -> None:
    if days is not None and not 1 <= days <= MAX_DAYS:
        raise DomainError("OUT_OF_RANGE", f"days must be from 1 to {MAX_DAYS}", field)


def check_margin(margin: Fraction | None, field: list[str]) -> None:
    if margin is not None and not 0 <= margin <= 1:
        raise DomainError("OUT_OF_RANGE", "the gross margin is a share from 0 to 1", field)


async def default_margin(scope: BrandScope) -> Fraction:
    """The brand's gross margin: the ``gross_margin`` of its campaign effect
    report (the one place operators set it), else 1 (profit = incremental
    revenue)."""
    from tessera.features.models import BrandFeature

    feature = await scope.query(BrandFeature).get_or_none(component_key=EFFECT_REPORT, instance="")
    value = (feature.config or {}).get("gross_margin") if feature is not None else None
    return DEFAULT_MARGIN if value is None else Fraction(Decimal(str(value)))


async def campaign_results(
    scope: BrandScope,
    campaign_id: int,
    *,
    days: int | None = None,
    margin: Fraction | None = None,
) -> CampaignResults:
    """One campaign's results; ``NOT_FOUND`` (field ``campaignId``) for an id
    that is not one of the brand's campaigns."""
    check_days(days, ["days"])
    check_margin(margin, ["margin"])
    campaign = await scope.query(Campaign).get_or_none(id=campaign_id)
    if campaign is None:
        raise DomainError("NOT_FOUND", "no such campaign", ["campaignId"])
    found = await results_of(scope, [campaign], days=days, margin=margin)
    return found[0]


async def results_of(
    scope: BrandScope,
    campaigns: Sequence[Campaign],
    *,
    days: int | None = None,
    margin: Fraction | None = None,
) -> list[CampaignResults]:
    """The results of several of the brand's campaigns: the stored rows of
    closed ones (tessera.campaigns.stored), the others in one statement
    whatever their number."""
    if not campaigns:
        return []
    if margin is None:
        margin = await default_margin(scope)
    from tessera.campaigns.stored import stored_rows

    # Closed campaigns whose window no change has reached since their rows
    # were stored read those; the others run the statement.
    by_campaign = await stored_rows(scope, campaigns, days)
    live = [c for c in campaigns if c.id not in by_campaign]
    if live:
        span = await window_span(scope, live, days)
        q = scope_query(scope)
        ids = ", ".join(q(c.id) for c in live)
        rows = await q.rows(_statement(q, scope.brand_id, f"c.id IN ({ids})", days, span))
        for row in rows:
            by_campaign.setdefault(int(row["campaign_id"]), []).append(row)
    scale = 10 ** exponent(scope.brand.currency)
    return [
        _results(
            c,
            by_campaign.get(c.id, []),
            days if days is not None else c.attribution_days,
            margin,
            scale,
        )
        for c in campaigns
    ]


async def launched_between(scope: BrandScope, start: datetime, end: datetime) -> list[Campaign]:
    """The brand's campaigns launched in ``[start, end)``, oldest first."""
    return list(
        await scope.query(Campaign)
        .filter(launched_at__gte=start, launched_at__lt=end)
        .order_by("launched_at", "id")
    )
