"""Redeeming against an order: every check refuses with its field and
changes nothing; idempotent; one coupon redeemed once under concurrency;
restored when its order is fully refunded."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest
from coupon_inputs import T0, cny, fields_of

from tessera.coupons import service
from tessera.coupons.models import Coupon, CouponRedemption
from tessera.errors import DomainError
from tessera.orders.inputs import LineInput, MemberRef, OrderInput, RefundInput, RefundLineInput
from tessera.orders.money import MoneyAmount
from tessera.orders.refunds import record_refund
from tessera.pipeline.orders import record_order
from tessera.scope import BrandScope


async def _order(scope, member_id, external_id, lines, paid, **extra):
    return (
        await record_order(
            scope,
            OrderInput(
                external_id=external_id,
                member=MemberRef(member_id=member_id),
                occurred_at=T0,
                amount_paid=cny(paid),
                lines=[
                    LineInput(sku=sku, quantity=q, unit_price=cny(price), category=category)
                    for sku, q, price, category in lines
                ],
                **extra,
            ),
            now=T0,
        )
    ).order


@pytest.fixture
async def held(brand_a, make_template, make_member):
    """A member holding a 20-off coupon (minimum spend 100, valid 7 days)."""
    scope = BrandScope(brand_a)
    template = await make_template(brand_a, min_spend=cny("100"))
    member = await make_member(brand_a)
    coupon = await service.issue_coupon(
        scope, template_id=template.id, member_id=member.id, idempotency_key="held", now=T0
    )
    return scope, template, member, coupon


async def test_redeem_against_a_checkout_amount_takes_the_discount(held):
    scope, _template, member, coupon = held
    result = await service.redeem_coupon(
        scope,
        code=coupon.code.lower().replace("-", ""),
        member_id=member.id,
        order_amount=15000,
        external_order_id="web-1",
        idempotency_key="r1",
        now=T0 + timedelta(hours=1),
    )
    assert (result.coupon.status, result.redemption.discount, result.replayed) == (
        "redeemed",
        2000,
        False,
    )
    again = await service.redeem_coupon(
        scope,
        code=coupon.code,
        member_id=member.id,
        order_amount=15000,
        external_order_id="web-1",
        idempotency_key="r1",
        now=T0 + timedelta(hours=2),
    )
    assert again.replayed and again.redemption.id == result.redemption.id
    with pytest.raises(DomainError) as caught:
        await service.redeem_coupon(
            scope,
            code=coupon.code,
            member_id=member.id,
            order_amount=99999,
            idempotency_key="r1",
            now=T0,
        )
    assert fields_of(caught.value) == {("IDEMPOTENCY_CONFLICT", "idempotencyKey")}
    assert await scope.query(CouponRedemption).count() == 1


async def test_every_refusal_names_its_field_and_changes_nothing(
    held, brand_b, make_member, make_template
):
    scope, template, member, coupon = held
    stranger = await make_member(scope.brand)
    member_b = await make_member(brand_b)
    coupon_b = await service.issue_coupon(
        BrandScope(brand_b),
        template_id=(await make_template(brand_b)).id,
        member_id=member_b.id,
        idempotency_key="b",
        now=T0,
    )

    async def refused(**kw) -> set:
        args = {
            "code": coupon.code,
            "member_id": member.id,
            "order_amount": 15000,
            "idempotency_key": "try",
            "now": T0 + timedelta(days=1),
        }
        args.update(kw)
        with pytest.raises(DomainError) as caught:
            await service.redeem_coupon(scope, **args)
        return fields_of(caught.value)

    missing = {("NOT_FOUND", "code")}
    assert await refused(code="0000-0000-0000-0000") == missing
    assert await refused(code="not a code") == missing
    assert await refused(member_id=stranger.id) == missing  # another member's coupon
    assert await refused(code=coupon_b.code, member_id=member_b.id) == missing  # another brand's
    assert await refused(order_amount=9999) == {("BELOW_MINIMUM_SPEND", "orderAmount")}
    assert await refused(now=T0 + timedelta(days=8)) == {("COUPON_EXPIRED", "code")}
    assert await refused(order_amount=-1) == {("INVALID_AMOUNT", "orderAmount")}
    assert await refused(order_amount=None) == {("INVALID", "orderId")}
    assert await refused(idempotency_key=" ") == {("REQUIRED", "idempotencyKey")}
    await service.update_template(scope, template.id, {"active": False})
    assert await refused() == {("TEMPLATE_INACTIVE", "code")}
    await service.update_template(scope, template.id, {"active": True})
    await service.void_coupon(scope, code=coupon.code, reason="fraud check")
    assert await refused() == {("COUPON_VOIDED", "code")}

    assert await scope.query(CouponRedemption).count() == 0
    assert (await scope.get(Coupon, coupon.id)).status == "voided"
    assert (await BrandScope(brand_b).get(Coupon, coupon_b.id)).status == "available"


async def test_redeem_against_a_recorded_order_checks_its_goods_and_categories(
    brand_a, make_template, make_member
):
    scope = BrandScope(brand_a)
    member = await make_member(brand_a)
    shoes_only = await make_template(
        brand_a,
        kind="percent_off",
        percent_off=10,
        max_discount=cny("15"),
        min_spend=cny("100"),
        categories=["shoes"],
    )
    coupon = await service.issue_coupon(
        scope, template_id=shoes_only.id, member_id=member.id, idempotency_key="i", now=T0
    )
    socks = await _order(scope, member.id, "o-socks", [("S", 4, "30.00", "socks")], "120.00")
    with pytest.raises(DomainError) as caught:
        await service.redeem_coupon(
            scope,
            code=coupon.code,
            member_id=member.id,
            order_id=socks.id,
            idempotency_key="x",
            now=T0,
        )
    assert fields_of(caught.value) == {("NOT_APPLICABLE", "orderId")}
    # 200 of goods at deal prices, 180 paid after the coupon: 10% capped at 15.
    shoes = await _order(scope, member.id, "o-shoes", [("SH", 1, "200.00", "shoes")], "185.00")
    result = await service.redeem_coupon(
        scope,
        code=coupon.code,
        member_id=member.id,
        order_id=shoes.id,
        idempotency_key="y",
        now=T0,
    )
    assert (result.redemption.order_id, result.redemption.order_amount) == (shoes.id, 20000)
    assert result.redemption.discount == 1500


async def test_another_members_order_is_not_found(held, make_member):
    scope, _template, member, coupon = held
    other = await make_member(scope.brand)
    order = await _order(scope, other.id, "o-other", [("A", 1, "200.00", None)], "200.00")
    with pytest.raises(DomainError) as caught:
        await service.redeem_coupon(
            scope,
            code=coupon.code,
            member_id=member.id,
            order_id=order.id,
            idempotency_key="z",
            now=T0,
        )
    assert fields_of(caught.value) == {("NOT_FOUND", "orderId")}


async def test_concurrent_redemptions_of_one_coupon_succeed_once(held):
    scope, _template, member, coupon = held

    async def redeem(i: int):
        try:
            return await service.redeem_coupon(
                scope,
                code=coupon.code,
                member_id=member.id,
                order_amount=20000,
                external_order_id=f"pos-{i}",
                idempotency_key=f"r{i}",
                now=T0 + timedelta(hours=1),
            )
        except DomainError as error:
            return error

    outcomes = await asyncio.gather(*(redeem(i) for i in range(20)))
    assert sum(not isinstance(o, DomainError) for o in outcomes) == 1
    assert {o.code for o in outcomes if isinstance(o, DomainError)} == {"COUPON_REDEEMED"}
    assert await scope.query(CouponRedemption).count() == 1

    same = await asyncio.gather(
        *(
            service.redeem_coupon(
                scope,
                code=coupon.code,
                member_id=member.id,
                order_amount=20000,
                external_order_id="pos-0",
                idempotency_key="r0",
                now=T0,
            )
            for _ in range(5)
        )
        if not isinstance(outcomes[0], DomainError)
        else ()
    )
    assert all(s.redemption.id == outcomes[0].redemption.id for s in same)


async def test_a_full_refund_restores_the_coupon_and_a_partial_one_does_not(held):
    scope, _template, member, coupon = held
    order = await _order(
        scope,
        member.id,
        "o-1",
        [("A", 2, "100.00", None)],
        "180.00",
        coupon_codes=[coupon.code],
    )
    # Recording the order with the code redeemed the coupon on it.
    assert (await scope.get(Coupon, coupon.id)).status == "redeemed"
    partial = RefundInput(
        external_id="rf-1",
        occurred_at=T0,
        order_id=order.id,
        amount=MoneyAmount(Decimal("80.00"), "CNY"),
    )
    await record_refund(scope, partial, now=T0)
    assert (await scope.get(Coupon, coupon.id)).status == "redeemed"
    await record_refund(scope, RefundInput(external_id="rf-2", occurred_at=T0, order_id=order.id))
    restored = await scope.get(Coupon, coupon.id)
    assert (restored.status, restored.redeemed_at) == ("available", None)
    redemption = await scope.query(CouponRedemption).get(coupon_id=coupon.id)
    assert redemption.restored_at is not None
    # Usable again within its window.
    again = await service.redeem_coupon(
        scope,
        code=coupon.code,
        member_id=member.id,
        order_amount=10000,
        idempotency_key="again",
        now=T0 + timedelta(days=1),
    )
    assert again.coupon.status == "redeemed"


async def test_an_order_the_coupon_paid_in_full_restores_it_only_when_all_is_returned(held):
    scope, _template, member, coupon = held
    order = await _order(
        scope,
        member.id,
        "o-free",
        [("A", 1, "100.00", None), ("B", 1, "100.00", None)],
        "0.00",
        coupon_codes=[coupon.code],
    )
    # Recording the order with the code redeemed the coupon on it.
    assert (await scope.get(Coupon, coupon.id)).status == "redeemed"
    one_line = RefundInput(
        external_id="rf-free-1",
        occurred_at=T0,
        order_id=order.id,
        lines=[RefundLineInput(line_no=0, quantity=1)],
    )
    await record_refund(scope, one_line, now=T0)
    assert (await scope.get(Coupon, coupon.id)).status == "redeemed"
    await record_refund(
        scope, RefundInput(external_id="rf-free-2", occurred_at=T0, order_id=order.id), now=T0
    )
    assert (await scope.get(Coupon, coupon.id)).status == "available"


async def test_a_coupon_redeemed_by_external_id_before_recording_is_restored_expired(held):
    scope, _template, member, coupon = held
    await service.redeem_coupon(
        scope,
        code=coupon.code,
        member_id=member.id,
        order_amount=20000,
        external_order_id="web-9",
        idempotency_key="use",
        now=T0,
    )
    order = await _order(scope, member.id, "web-9", [("A", 1, "200.00", None)], "180.00")
    await record_refund(scope, RefundInput(external_id="rf", occurred_at=T0, order_id=order.id))
    restored = await scope.get(Coupon, coupon.id)
    assert restored.status == "available"
    later = T0 + timedelta(days=30)
    assert service.status_of(restored, later) is service.CouponStatus.EXPIRED
    expired = await service.coupons_of_members(
        scope, [member.id], service.CouponStatus.EXPIRED, later
    )
    assert [c.id for c in expired[member.id]] == [coupon.id]


async def test_applicable_coupons_lists_what_an_order_could_use(
    brand_a, make_template, make_member
):
    scope = BrandScope(brand_a)
    member = await make_member(brand_a)
    small = await make_template(brand_a, title="small", min_spend=cny("50"))
    big = await make_template(brand_a, title="big", min_spend=cny("500"))
    shoes = await make_template(brand_a, title="shoes", categories=["shoes"])
    for t in (small, big, shoes):
        await service.issue_coupon(
            scope, template_id=t.id, member_id=member.id, idempotency_key=f"k{t.id}", now=T0
        )
    titles = [
        c.template.title
        for c in await service.applicable_coupons(scope, member.id, 10000, ["socks"], T0)
    ]
    assert titles == ["small"]
    titles = {
        c.template.title
        for c in await service.applicable_coupons(scope, member.id, 60000, ["shoes"], T0)
    }
    assert titles == {"small", "big", "shoes"}
    assert (
        await service.applicable_coupons(scope, member.id, 60000, None, T0 + timedelta(days=9))
        == []
    )


async def test_void_is_idempotent_and_refuses_a_used_coupon(held):
    scope, _template, member, coupon = held
    with pytest.raises(DomainError) as caught:
        await service.void_coupon(scope, code=coupon.code, reason=" ")
    assert fields_of(caught.value) == {("REQUIRED", "reason")}
    voided = await service.void_coupon(scope, code=coupon.code, reason="lost")
    again = await service.void_coupon(scope, code=coupon.code, reason="lost again")
    assert (voided.status, again.void_reason) == ("voided", "lost")
    other = await service.issue_coupon(
        scope, template_id=coupon.template_id, member_id=member.id, idempotency_key="o", now=T0
    )
    await service.redeem_coupon(
        scope,
        code=other.code,
        member_id=member.id,
        order_amount=10000,
        idempotency_key="u",
        now=T0,
    )
    with pytest.raises(DomainError) as caught:
        await service.void_coupon(scope, coupon_id=other.id, reason="too late")
    assert fields_of(caught.value) == {("COUPON_REDEEMED", "couponId")}


async def test_concurrent_retries_of_one_key_all_get_the_first_result(held, late_retries):
    scope, _template, member, coupon = held
    gate = late_retries(20)

    async def retry():
        try:
            return await service.redeem_coupon(
                scope,
                code=coupon.code,
                member_id=member.id,
                order_amount=20000,
                external_order_id="pos-retried",
                idempotency_key="same-key",
                now=T0 + timedelta(hours=1),
            )
        except DomainError as error:
            return error
        finally:
            gate.done()

    outcomes = await asyncio.gather(*(retry() for _ in range(20)))
    assert [o.code for o in outcomes if isinstance(o, DomainError)] == []
    assert sorted(o.replayed for o in outcomes) == [False] + [True] * 19
    assert {o.redemption.id for o in outcomes} == {(await scope.query(CouponRedemption).get()).id}
    assert {o.coupon.status for o in outcomes} == {"redeemed"}
