"""A shop at checkout: points as cash (100 points per yuan, up to half an
order, at least 100 at a time), a point per yuan spent, and a member with
1,000 points and two 20-yuan coupons."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from tessera.assets.service import earn_points
from tessera.assets.verify import verify_brand
from tessera.coupons import service as coupons
from tessera.coupons.issuing import issue_coupon
from tessera.coupons.models import Coupon, CouponTemplate
from tessera.features.service import set_feature
from tessera.members.models import Member
from tessera.members.service import create_member
from tessera.orders.money import MoneyAmount
from tessera.scope import BrandScope
from tessera.tenancy.models import Brand

_numbers = itertools.count(1)


def cny(amount: str) -> MoneyAmount:
    return MoneyAmount(Decimal(amount), "CNY")


@dataclass
class Shop:
    brand: Brand
    scope: BrandScope
    template: CouponTemplate

    async def member(self, points: int = 1000) -> Member:
        uid = f"checkout-{next(_numbers)}"
        member = await create_member(self.scope, {"name": uid}, identities=[("app_user_id", uid)])
        if points:
            await earn_points(
                self.scope,
                member.id,
                points,
                idempotency_key=f"seed-{uid}",
                reason="seed",
                source_type="test",
            )
        return member

    async def coupon(
        self, member: Member, template: CouponTemplate | None = None, now: datetime | None = None
    ) -> Coupon:
        return await issue_coupon(
            self.scope,
            template_id=(template or self.template).id,
            member_id=member.id,
            idempotency_key=f"coupon-{next(_numbers)}",
            now=now,
        )

    async def template_of(self, **values: Any) -> CouponTemplate:
        row: dict[str, Any] = {"kind": "amount_off", "title": "t", "valid_days": 7}
        row["amount_off"] = cny("20.00")
        row.update(values)
        return await coupons.create_template(self.scope, row)


async def open_shop(brand: Brand) -> Shop:
    scope = BrandScope(brand)
    await set_feature(
        scope,
        "points.redemption",
        enabled=True,
        config={"points_per_unit": 100, "max_share_percent": 50, "min_points": 100},
    )
    await set_feature(scope, "points.purchase", enabled=True, config={"points_per_unit": "1"})
    template = await coupons.create_template(
        scope,
        {"kind": "amount_off", "title": "20 off", "amount_off": cny("20.00"), "valid_days": 7},
    )
    return Shop(brand, scope, template)


@pytest.fixture
async def shop(brand_a: Brand) -> Shop:
    return await open_shop(brand_a)


@pytest.fixture
def ledger_consistent():
    async def check(brand: Brand) -> None:
        problems = [p async for p in verify_brand(BrandScope(brand))]
        assert not problems, "\n".join(str(p) for p in problems)

    return check
