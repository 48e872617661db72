"""Members, templates and orders to hang coupons on."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from coupon_inputs import cny, usd

from tessera.coupons import redemption, service
from tessera.coupons.models import CouponTemplate
from tessera.members.models import Member
from tessera.members.service import create_member
from tessera.scope import BrandScope
from tessera.tenancy.models import Brand

_numbers = itertools.count(1)


@pytest.fixture
def make_member() -> Callable[..., Awaitable[Member]]:
    """``await make_member(brand)``: an active member."""

    async def make(brand: Brand) -> Member:
        uid = f"coupon-member-{next(_numbers)}"
        return await create_member(
            BrandScope(brand), {"name": uid}, identities=[("app_user_id", uid)]
        )

    return make


@pytest.fixture
def make_template() -> Callable[..., Awaitable[CouponTemplate]]:
    """``await make_template(brand, **columns)``: by default 20 CNY off, valid 7 days."""

    async def make(brand: Brand, **values: Any) -> CouponTemplate:
        money = cny if brand.currency == "CNY" else usd
        row: dict[str, Any] = {
            "kind": "amount_off",
            "title": "20 off",
            "amount_off": money("20.00"),
            "valid_days": 7,
        }
        if values.get("kind", "amount_off") != "amount_off":
            row.pop("amount_off")
        if "valid_until_date" in values:
            row.pop("valid_days")
        row.update(values)
        return await service.create_template(BrandScope(brand), row)

    return make


class LateRetries:
    """Makes ``n`` concurrent redemptions interleave the way retries over HTTP
    do: all of them miss the idempotency lookup (nothing is committed yet),
    then one goes through to the end while the others wait, and only then do
    they read the coupon, already redeemed by the first. ``done()`` must be
    called when a call ends (it releases the waiting ones)."""

    def __init__(self, n: int) -> None:
        self.n, self.arrived = n, 0
        self.all_arrived, self.first_done = asyncio.Event(), asyncio.Event()

    async def before_coupon_read(self) -> None:
        self.arrived += 1
        mine = self.arrived
        if mine == self.n:
            self.all_arrived.set()
        await self.all_arrived.wait()
        if mine > 1:
            await self.first_done.wait()

    def done(self) -> None:
        self.first_done.set()


@pytest.fixture
def late_retries(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], LateRetries]:
    """``late_retries(20)``: the next 20 redemptions interleave as :class:`LateRetries`."""

    def install(n: int) -> LateRetries:
        gate = LateRetries(n)
        original = redemption._owned_coupon

        async def owned_coupon(*args: Any) -> Any:
            await gate.before_coupon_read()
            return await original(*args)

        monkeypatch.setattr(redemption, "_owned_coupon", owned_coupon)
        return gate

    return install
