"""The brand's key figures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.responses import Response
from tortoise.functions import Count, Sum

from tessera.admin_ui.context import Ctx
from tessera.admin_ui.i18n import N_
from tessera.admin_ui.registry import page
from tessera.assets.models import AssetAccount
from tessera.auth.scopes import Scope
from tessera.members.models import Member
from tessera.orders.models import Order
from tessera.scope import BrandScope


@dataclass(frozen=True)
class Figures:
    members: int
    new_this_week: int
    points_liability: int
    orders_this_month: int
    sales_this_month: int  # minor units, net of refunds


async def _one(query: Any) -> dict[str, Any]:
    rows = await query
    return dict(rows[0]) if rows else {}


async def figures(scope: BrandScope, now: datetime) -> Figures:
    local = now.astimezone(ZoneInfo(scope.brand.timezone))
    month_start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    members = await scope.query(Member).count()
    new = await scope.query(Member).filter(joined_at__gte=now - timedelta(days=7)).count()
    points = await _one(
        scope.query(AssetAccount)
        .filter(kind="points")
        .annotate(total=Sum("balance"))
        .values("total")
    )
    orders = await _one(
        scope.query(Order)
        .filter(occurred_at__gte=month_start)
        .annotate(n=Count("id"), paid=Sum("amount_paid"), refunded=Sum("refunded_amount"))
        .values("n", "paid", "refunded")
    )
    return Figures(
        members=members,
        new_this_week=new,
        points_liability=int(points.get("total") or 0),
        orders_this_month=int(orders.get("n") or 0),
        sales_this_month=int(orders.get("paid") or 0) - int(orders.get("refunded") or 0),
    )


@page("/", "dashboard", permission=Scope.READ, title=N_("Dashboard"), nav_group="Overview")
async def dashboard(ctx: Ctx) -> Response:
    return ctx.render(
        "dashboard.html", title=N_("Dashboard"), figures=await figures(ctx.scope, datetime.now(UTC))
    )
