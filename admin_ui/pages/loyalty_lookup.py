"""Lookup by code: a coupon by its code (as typed at a till) and a points or
stored-value write by its idempotency key, through the reads GraphQL uses
(``coupon(code)``; the ledger's replay lookup). Read scope; only the brand's
own rows are found."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.responses import Response

from tessera.admin_ui.context import Ctx
from tessera.admin_ui.i18n import N_
from tessera.admin_ui.registry import page
from tessera.assets import service as assets
from tessera.auth.scopes import Scope
from tessera.coupons.models import CouponRedemption
from tessera.coupons.service import find_coupon, status_of
from tessera.idempotency import MAX_CALLER_KEY, from_caller
from tessera.members.models import Member

LEDGER_LIMIT = 50


async def _ledger_writes(ctx: Ctx, key: str) -> list[Any]:
    """The ledger entries a write with ``key`` recorded: an internal key as
    stored (``order:42:points.purchase:0``) or a caller's, as the API stores it."""
    found = await assets.recorded(ctx.scope, key)
    if found is None and len(key) <= MAX_CALLER_KEY:
        found = await assets.recorded(ctx.scope, from_caller(key))
    return found.entries if found else []


@page(
    "/lookup",
    "loyalty_lookup",
    permission=Scope.READ,
    title=N_("Lookup by code"),
    nav_group="Loyalty",
)
async def lookup(ctx: Ctx) -> Response:
    code = ctx.request.query_params.get("code", "").strip()
    key = ctx.request.query_params.get("key", "").strip()
    coupon = await find_coupon(ctx.scope, code) if code else None
    coupon_member = redemptions = None
    if coupon is not None:
        coupon_member = await ctx.scope.get(Member, coupon.member_id)
        redemptions = list(
            await ctx.scope.query(CouponRedemption)
            .filter(coupon_id=coupon.id)
            .order_by("-redeemed_at")
        )
    entries = (await _ledger_writes(ctx, key))[:LEDGER_LIMIT] if key else []
    members = {
        m.id: m for m in await ctx.scope.query(Member).filter(id__in=[e.member_id for e in entries])
    }
    return ctx.render(
        "loyalty_lookup.html",
        title=N_("Lookup by code"),
        code=code,
        key=key,
        coupon=coupon,
        coupon_status=status_of(coupon, datetime.now(UTC)) if coupon else None,
        coupon_member=coupon_member,
        redemptions=redemptions or [],
        entries=entries,
        members=members,
    )
