"""The brand's key figures, each with a small chart. Every figure is summed
by the database, per day of the brand's time zone, in a fixed number of
queries whatever the brand's size (six, asserted in tests/admin)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.responses import Response
from tortoise.expressions import Case, Q, Subquery, When
from tortoise.functions import Count, Sum
from tortoise.queryset import QuerySet

from tessera.admin_ui.charts import Chart, bar_chart, line_chart, meter
from tessera.admin_ui.context import Ctx
from tessera.admin_ui.i18n import N_
from tessera.admin_ui.registry import page
from tessera.assets.models import PENDING_ONLY, AssetAccount, LedgerEntry
from tessera.auth.scopes import Scope
from tessera.behaviour.models import BehaviourEvent
from tessera.members.models import Member
from tessera.orders.models import Order
from tessera.scope import BrandScope

# The charts' window, and what makes a member active: an order or a
# behaviour event within it (docs/admin.md, Dashboard).
WINDOW_DAYS = 30
WEEK_DAYS = 7


@dataclass(frozen=True)
class Figures:
    members: int
    new_this_week: int  # joined today or in the 6 days before (brand's time zone)
    active: int  # an order or an event in the last WINDOW_DAYS days
    points_liability: int
    orders_this_month: int
    sales_this_month: int  # minor units, net of refunds
    charts: dict[str, Chart]


def _start(day: date, tz: ZoneInfo) -> datetime:
    """The instant ``day`` begins in the brand's time zone, in UTC."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


async def _per_day(
    query: QuerySet[Any], field: str, days: list[date], tz: ZoneInfo, **sums: Any
) -> list[dict[str, int]]:
    """``sums`` per day of ``days`` (consecutive), in one query: the day is a
    CASE over the days' bounds in the brand's time zone, so summer time and
    every database dialect agree."""
    bounds = [_start(d, tz) for d in days] + [_start(days[-1] + timedelta(days=1), tz)]

    def within(start: datetime, end: datetime) -> dict[str, Any]:
        return {f"{field}__gte": start, f"{field}__lt": end}

    bucket = Case(
        *(When(Q(**within(bounds[i], bounds[i + 1])), then=str(i)) for i in range(len(days))),
        default="-1",
    )
    rows = await (
        query.filter(**within(bounds[0], bounds[-1]))
        .annotate(day=bucket)
        .group_by("day")
        .annotate(**sums)
        .values("day", *sums)
    )
    found = [dict.fromkeys(sums, 0) for _ in days]
    for row in rows:
        index = int(row["day"])
        if 0 <= index < len(days):
            found[index] = {name: int(row[name] or 0) for name in sums}
    return found


def _running(values: list[int]) -> list[int]:
    total, out = 0, []
    for value in values:
        total += value
        out.append(total)
    return out


async def figures(scope: BrandScope, now: datetime) -> Figures:
    tz = ZoneInfo(scope.brand.timezone)
    today = now.astimezone(tz).date()
    window = [today - timedelta(days=WINDOW_DAYS - 1 - i) for i in range(WINDOW_DAYS)]
    since = _start(window[0], tz)
    this_month = today.replace(day=1)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    months = [last_month + timedelta(days=i) for i in range((today - last_month).days + 1)]

    members = await scope.query(Member).count()
    joined = [
        d["n"] for d in await _per_day(scope.query(Member), "joined_at", window, tz, n=Count("id"))
    ]
    active = (
        await scope.query(Member)
        .filter(
            Q(
                id__in=Subquery(
                    scope.query(Order).filter(occurred_at__gte=since).values("member_id")
                )
            )
            | Q(
                id__in=Subquery(
                    scope.query(BehaviourEvent).filter(occurred_at__gte=since).values("member_id")
                )
            )
        )
        .count()
    )
    points = await (
        scope.query(AssetAccount)
        .filter(kind="points")
        .annotate(total=Sum("balance"))
        .values("total")
    )
    liability = int((points[0]["total"] if points else 0) or 0)
    # Balances move when an entry is written (created_at), not when what it
    # records happened; pending-only entries do not move them.
    moved = [
        d["n"]
        for d in await _per_day(
            scope.query(LedgerEntry).filter(kind="points").exclude(entry_type__in=PENDING_ONLY),
            "created_at",
            window,
            tz,
            n=Sum("amount"),
        )
    ]
    orders = await _per_day(
        scope.query(Order),
        "occurred_at",
        months,
        tz,
        n=Count("id"),
        paid=Sum("amount_paid"),
        refunded=Sum("refunded_amount"),
    )

    split = (this_month - last_month).days
    before, now_month = orders[:split], orders[split:]
    month_days: list[date | int] = list(range(1, max(split, len(now_month)) + 1))
    # Each day's closing figure: today's, less what came after that day.
    members_at = [members - sum(joined[i + 1 :]) for i in range(WINDOW_DAYS)]
    liability_at = [liability - sum(moved[i + 1 :]) for i in range(WINDOW_DAYS)]
    sales_now = [d["paid"] - d["refunded"] for d in now_month]
    sales_before = [d["paid"] - d["refunded"] for d in before]
    this_label, last_label = N_("This month"), N_("Last month")
    charts = {
        "members": line_chart(
            N_("Members at the end of each day, last 30 days"),
            list(window),
            {N_("Members"): ("line", members_at)},
            from_zero=False,
        ),
        "new": bar_chart(
            N_("Members joined per day, last 30 days"),
            list(window),
            N_("Joined"),
            joined,
            highlight_last=WEEK_DAYS,
        ),
        "active": meter(N_("Active members of all members"), N_("Active"), active, members),
        "points": line_chart(
            N_("Points liability at the end of each day, last 30 days"),
            list(window),
            {N_("Points liability"): ("line", liability_at)},
            from_zero=False,
        ),
        "orders": line_chart(
            N_("Orders so far this month, by day, against last month"),
            month_days,
            {
                this_label: ("line", _running([d["n"] for d in now_month])),
                last_label: ("line previous", _running([d["n"] for d in before])),
            },
        ),
        "sales": line_chart(
            N_("Net sales so far this month, by day, against last month"),
            month_days,
            {
                this_label: ("line", _running(sales_now)),
                last_label: ("line previous", _running(sales_before)),
            },
            money=True,
        ),
    }
    return Figures(
        members=members,
        new_this_week=sum(joined[-WEEK_DAYS:]),
        active=active,
        points_liability=liability,
        orders_this_month=sum(d["n"] for d in now_month),
        sales_this_month=sum(sales_now),
        charts=charts,
    )


@page("/", "dashboard", permission=Scope.READ, title=N_("Dashboard"), nav_group="Overview")
async def dashboard(ctx: Ctx) -> Response:
    return ctx.render(
        "dashboard.html", title=N_("Dashboard"), figures=await figures(ctx.scope, datetime.now(UTC))
    )
