"""Segments tests: members to put in segments, orders to move them, and a
plugin that records the domain events segments emit."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from tessera.members.models import Member
from tessera.members.service import create_member
from tessera.orders.inputs import LineInput, MemberRef, OrderInput
from tessera.orders.money import MoneyAmount
from tessera.pipeline.orders import record_order
from tessera.scope import BrandScope
from tessera.tenancy.models import Brand

_numbers = itertools.count(1)


@pytest.fixture
def make_member() -> Callable[..., Awaitable[Member]]:
    """``await make_member(brand, city="Hangzhou")``: an active member with a phone-free
    app user id identity and the given profile fields."""

    async def make(brand: Brand, **profile: Any) -> Member:
        uid = f"app-{next(_numbers)}"
        return await create_member(
            BrandScope(brand),
            {"name": f"Member {uid}", **profile},
            identities=[("app_user_id", uid)],
        )

    return make


@pytest.fixture
def buy() -> Callable[..., Awaitable[Any]]:
    """``await buy(brand, member, "120.00", at=...)``: record an order."""

    async def order(brand: Brand, member: Member, paid: str = "100.00", *, at: datetime) -> Any:
        amount = MoneyAmount(Decimal(paid), brand.currency)
        result = await record_order(
            BrandScope(brand),
            OrderInput(
                external_id=f"o-{next(_numbers)}",
                member=MemberRef(member_id=member.id),
                occurred_at=at,
                amount_paid=amount,
                lines=[LineInput(sku="SKU-1", quantity=1, unit_price=amount)],
            ),
            now=at,
        )
        return result.order

    return order


@pytest.fixture
async def events(brand_a: Brand, record_events: Callable[[Brand], Awaitable[Any]]) -> Any:
    """Domain events of brand A from here on, as a plugin enabled there receives them."""
    log = await record_events(brand_a)
    log.received.clear()
    return log
