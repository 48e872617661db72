"""Members, templates and orders to hang coupons on."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from coupon_inputs import cny, usd

from tessera.coupons import service
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
