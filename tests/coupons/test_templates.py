"""Coupon templates: validation names the field and stores nothing; terms
freeze once a coupon is issued; validity windows in the brand's timezone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from coupon_inputs import T0, cny, d, fields_of

from tessera.coupons import service
from tessera.coupons.models import CouponTemplate
from tessera.coupons.templates import window
from tessera.errors import DomainError
from tessera.scope import BrandScope


async def test_bad_template_names_every_field_and_stores_nothing(brand_a):
    scope = BrandScope(brand_a)
    with pytest.raises(DomainError) as caught:
        await service.create_template(
            scope,
            {
                "kind": "percent_off",
                "title": "",
                "percent_off": 120,
                "max_discount": cny("-5"),
                "min_spend": cny("-1"),
                "valid_from_date": d("2025-05-01"),
                "valid_until_date": d("2025-04-01"),
                "per_member_limit": 0,
            },
        )
    assert fields_of(caught.value) == {
        ("REQUIRED", "title"),
        ("OUT_OF_RANGE", "percentOff"),
        ("NEGATIVE_AMOUNT", "maxDiscount.amount"),
        ("NEGATIVE_AMOUNT", "minSpend.amount"),
        ("INVALID", "validUntil"),
        ("OUT_OF_RANGE", "perMemberLimit"),
    }
    assert await scope.query(CouponTemplate).count() == 0


async def test_kind_specific_values_are_required_and_exclusive(brand_a):
    scope = BrandScope(brand_a)
    with pytest.raises(DomainError) as caught:
        await service.create_template(
            scope, {"kind": "gift", "title": "Gift", "amount_off": cny("5"), "valid_days": 3}
        )
    assert fields_of(caught.value) == {("INVALID", "amountOff"), ("REQUIRED", "giftSku")}
    with pytest.raises(DomainError) as caught:
        await service.create_template(scope, {"kind": "free_shipping", "title": "Ship"})
    assert fields_of(caught.value) == {("INVALID", "validUntil")}
    with pytest.raises(DomainError) as caught:
        await service.create_template(
            scope, {"kind": "amount_off", "title": "x", "amount_off": cny("0"), "valid_days": 1}
        )
    assert fields_of(caught.value) == {("INVALID_AMOUNT", "amountOff")}


async def test_terms_freeze_once_issued_but_title_and_stock_stay_editable(
    brand_a, make_template, make_member
):
    scope = BrandScope(brand_a)
    template = await make_template(brand_a, total_stock=5)
    member = await make_member(brand_a)
    await service.update_template(scope, template.id, {"amount_off": cny("30")})
    await service.issue_coupon(
        scope, template_id=template.id, member_id=member.id, idempotency_key="k1", now=T0
    )
    with pytest.raises(DomainError) as caught:
        await service.update_template(scope, template.id, {"amount_off": cny("50")})
    assert fields_of(caught.value) == {("TEMPLATE_IN_USE", "amountOff")}
    with pytest.raises(DomainError) as caught:
        await service.update_template(scope, template.id, {"total_stock": 0})
    assert fields_of(caught.value) == {("STOCK_BELOW_ISSUED", "totalStock")}
    with pytest.raises(DomainError) as caught:
        await service.delete_template(scope, template.id)
    assert caught.value.code == "TEMPLATE_IN_USE"
    updated = await service.update_template(
        scope, template.id, {"title": "Spring 30 off", "total_stock": 1, "active": False}
    )
    assert (updated.title, updated.amount_off, updated.total_stock, updated.active) == (
        "Spring 30 off",
        3000,
        1,
        False,
    )


async def test_unused_template_can_be_deleted(brand_a, make_template):
    scope = BrandScope(brand_a)
    template = await make_template(brand_a)
    await service.delete_template(scope, template.id)
    assert await scope.get(CouponTemplate, template.id) is None


async def test_n_days_end_at_the_end_of_the_nth_day_in_the_brand_timezone(brand_a, make_template):
    template = await make_template(brand_a, valid_days=7)
    # 2025-03-01 23:30 in Shanghai is still March 1st there.
    issued = datetime(2025, 3, 1, 15, 30, tzinfo=UTC)
    start, end = window(template, "Asia/Shanghai", issued)
    assert start == issued
    assert end == datetime(2025, 3, 8, 16, 0, tzinfo=UTC)  # 2025-03-09 00:00 +08:00


async def test_fixed_dates_cover_whole_days_in_the_brand_timezone(brand_b, make_template):
    template = await make_template(
        brand_b,
        valid_from_date=d("2025-07-01"),
        valid_until_date=d("2025-07-31"),
    )
    start, end = window(template, "America/New_York", T0)
    assert start == datetime(2025, 7, 1, 4, 0, tzinfo=UTC)
    assert end == datetime(2025, 8, 1, 4, 0, tzinfo=UTC)
