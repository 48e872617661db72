"""Issuing: one member or many, idempotent, within stock and per-member
limits — also under concurrency — with unguessable codes."""

from __future__ import annotations

import asyncio
import re

import pytest
from coupon_inputs import T0, d, fields_of

from tessera.coupons import codes, service
from tessera.coupons.models import Coupon, CouponAllowance, CouponTemplate
from tessera.errors import DomainError
from tessera.members.profile import MemberStatus
from tessera.members.service import update_member
from tessera.scope import BrandScope


async def test_issue_gives_the_member_a_coupon_with_its_window(brand_a, make_template, make_member):
    scope = BrandScope(brand_a)
    template = await make_template(brand_a, valid_days=7)
    member = await make_member(brand_a)
    coupon = await service.issue_coupon(
        scope, template_id=template.id, member_id=member.id, idempotency_key="welcome-1", now=T0
    )
    assert re.fullmatch(r"([0-9A-HJKMNP-TV-Z]{4}-){3}[0-9A-HJKMNP-TV-Z]{4}", coupon.code)
    assert (coupon.member_id, coupon.status, coupon.valid_from) == (member.id, "available", T0)
    assert coupon.expires_at.isoformat() == "2025-03-08T16:00:00+00:00"
    assert (await scope.get(CouponTemplate, template.id)).issued_count == 1


async def test_replaying_a_key_returns_the_first_coupon_and_a_changed_payload_is_refused(
    brand_a, make_template, make_member
):
    scope = BrandScope(brand_a)
    template = await make_template(brand_a)
    one, two = await make_member(brand_a), await make_member(brand_a)
    first = await service.issue_coupon(
        scope, template_id=template.id, member_id=one.id, idempotency_key="k", now=T0
    )
    again = await service.issue_coupon(
        scope, template_id=template.id, member_id=one.id, idempotency_key="k", now=T0
    )
    assert again.id == first.id and again.code == first.code
    with pytest.raises(DomainError) as caught:
        await service.issue_coupon(
            scope, template_id=template.id, member_id=two.id, idempotency_key="k", now=T0
        )
    assert fields_of(caught.value) == {("IDEMPOTENCY_CONFLICT", "idempotencyKey")}
    assert await scope.query(Coupon).count() == 1
    assert (await scope.get(CouponTemplate, template.id)).issued_count == 1


async def test_out_of_stock_over_limit_inactive_and_expired_templates_are_refused(
    brand_a, make_template, make_member
):
    scope = BrandScope(brand_a)
    member = await make_member(brand_a)

    async def refused(template_id: int, key: str, member_id: int = member.id) -> set:
        with pytest.raises(DomainError) as caught:
            await service.issue_coupon(
                scope, template_id=template_id, member_id=member_id, idempotency_key=key, now=T0
            )
        return fields_of(caught.value)

    one_left = await make_template(brand_a, total_stock=1)
    other = await make_member(brand_a)
    await service.issue_coupon(
        scope, template_id=one_left.id, member_id=other.id, idempotency_key="a", now=T0
    )
    assert await refused(one_left.id, "b") == {("OUT_OF_STOCK", "templateId")}

    limited = await make_template(brand_a, per_member_limit=1)
    await service.issue_coupon(
        scope, template_id=limited.id, member_id=member.id, idempotency_key="c", now=T0
    )
    assert await refused(limited.id, "d") == {("OVER_MEMBER_LIMIT", "memberId")}

    paused = await make_template(brand_a, active=False)
    assert await refused(paused.id, "e") == {("TEMPLATE_INACTIVE", "templateId")}
    ended = await make_template(
        brand_a, valid_from_date=d("2025-01-01"), valid_until_date=d("2025-02-28")
    )
    assert await refused(ended.id, "f") == {("TEMPLATE_EXPIRED", "templateId")}
    assert await refused(limited.id, "g", member_id=10**9) == {("NOT_FOUND", "memberId")}
    await update_member(scope, member.id, {}, status=MemberStatus.FROZEN)
    assert await refused(one_left.id, "h") == {("MEMBER_INACTIVE", "memberId")}

    # Nothing of the refused calls stayed behind.
    assert await scope.query(Coupon).count() == 2
    assert (await scope.get(CouponTemplate, one_left.id)).issued_count == 1
    assert (await scope.get(CouponTemplate, limited.id)).issued_count == 1


async def test_another_brands_template_or_member_is_not_found(
    brand_a, brand_b, make_template, make_member
):
    scope_a = BrandScope(brand_a)
    template_b = await make_template(brand_b)
    member_b = await make_member(brand_b)
    template_a = await make_template(brand_a)
    with pytest.raises(DomainError) as caught:
        await service.issue_coupon(
            scope_a, template_id=template_b.id, member_id=member_b.id, idempotency_key="x"
        )
    assert fields_of(caught.value) == {("NOT_FOUND", "templateId")}
    with pytest.raises(DomainError) as caught:
        await service.issue_coupon(
            scope_a, template_id=template_a.id, member_id=member_b.id, idempotency_key="x"
        )
    assert fields_of(caught.value) == {("NOT_FOUND", "memberId")}
    assert await BrandScope(brand_b).query(Coupon).count() == 0


async def test_fifty_concurrent_issues_never_oversell_a_stock_of_ten(
    brand_a, make_template, make_member
):
    scope = BrandScope(brand_a)
    template = await make_template(brand_a, total_stock=10)
    members = [await make_member(brand_a) for _ in range(50)]

    async def issue(i: int):
        try:
            return await service.issue_coupon(
                scope, template_id=template.id, member_id=members[i].id, idempotency_key=f"c{i}"
            )
        except DomainError as error:
            return error

    outcomes = await asyncio.gather(*(issue(i) for i in range(50)))
    issued = [o for o in outcomes if isinstance(o, Coupon)]
    refused = [o for o in outcomes if isinstance(o, DomainError)]
    assert len(issued) == 10
    assert {e.code for e in refused} == {"OUT_OF_STOCK"} and len(refused) == 40
    assert await scope.query(Coupon).count() == 10
    assert (await scope.get(CouponTemplate, template.id)).issued_count == 10


async def test_concurrent_issues_to_one_member_respect_the_limit_and_one_key_applies_once(
    brand_a, make_template, make_member
):
    scope = BrandScope(brand_a)
    template = await make_template(brand_a, per_member_limit=3)
    member = await make_member(brand_a)

    async def issue(key: str):
        try:
            return await service.issue_coupon(
                scope, template_id=template.id, member_id=member.id, idempotency_key=key
            )
        except DomainError as error:
            return error

    outcomes = await asyncio.gather(*(issue(f"k{i}") for i in range(20)))
    assert sum(isinstance(o, Coupon) for o in outcomes) == 3
    assert {o.code for o in outcomes if isinstance(o, DomainError)} == {"OVER_MEMBER_LIMIT"}

    other = await make_template(brand_a)
    same = await asyncio.gather(
        *(
            service.issue_coupon(
                scope, template_id=other.id, member_id=member.id, idempotency_key="once"
            )
            for _ in range(10)
        )
    )
    assert len({c.id for c in same}) == 1
    assert await scope.query(Coupon).filter(template_id=other.id).count() == 1
    allowance = await scope.query(CouponAllowance).get(template_id=template.id, member_id=member.id)
    assert allowance.issued == 3


async def test_bulk_issue_gives_per_item_results_within_stock_and_limits(
    brand_a, make_template, make_member
):
    scope = BrandScope(brand_a)
    template = await make_template(brand_a, total_stock=4, per_member_limit=1)
    members = [await make_member(brand_a) for _ in range(5)]
    ids = [m.id for m in members]
    await service.issue_coupon(
        scope, template_id=template.id, member_id=ids[1], idempotency_key="before", now=T0
    )
    results = await service.issue_coupons(
        scope,
        template_id=template.id,
        member_ids=[ids[0], ids[1], ids[0], 10**9, ids[2], ids[3], ids[4]],
        idempotency_key="spring",
        now=T0,
    )
    summary = [
        r.member_id if isinstance(r, Coupon) else (r.code, ".".join(r.field)) for r in results
    ]
    assert summary == [
        ids[0],
        ("OVER_MEMBER_LIMIT", "memberIds.1"),
        ("DUPLICATE", "memberIds.2"),
        ("NOT_FOUND", "memberIds.3"),
        ids[2],
        ids[3],
        ("OUT_OF_STOCK", "memberIds.6"),
    ]
    assert (await scope.get(CouponTemplate, template.id)).issued_count == 4
    assert await scope.query(Coupon).count() == 4

    replay = await service.issue_coupons(
        scope, template_id=template.id, member_ids=[ids[0], ids[2]], idempotency_key="spring"
    )
    assert [c.id for c in replay] == [results[0].id, results[4].id]
    assert await scope.query(Coupon).count() == 4


async def test_bulk_issue_refuses_more_than_ten_thousand(brand_a, make_template):
    with pytest.raises(DomainError) as caught:
        await service.issue_coupons(
            BrandScope(brand_a),
            template_id=(await make_template(brand_a)).id,
            member_ids=list(range(10_001)),
            idempotency_key="big",
        )
    assert fields_of(caught.value) == {("BATCH_TOO_LARGE", "memberIds")}


async def test_bulk_issue_of_ten_thousand_codes_all_distinct(brand_a, make_template, make_member):
    scope = BrandScope(brand_a)
    template = await make_template(brand_a)
    member = await make_member(brand_a)
    # One member's id repeated is refused item by item; this measures the code
    # space on a real batch of distinct members instead.
    from tessera.members.models import Member

    extra = [scope.build(Member, name=f"bulk {i}", joined_at=T0) for i in range(1999)]
    await Member.bulk_create(extra)  # test setup: 1,999 members at once
    ids = [
        member.id,
        *(await scope.query(Member).exclude(id=member.id).values_list("id", flat=True)),
    ]
    results = await service.issue_coupons(
        scope, template_id=template.id, member_ids=ids, idempotency_key="bulk"
    )
    assert all(isinstance(r, Coupon) for r in results)
    assert len({r.code for r in results}) == len(ids) == 2000
    assert all(codes.normalise(r.code.lower().replace("-", "")) == r.code for r in results)
