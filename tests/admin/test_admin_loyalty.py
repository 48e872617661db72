"""Loyalty pages: tiers, the points policy, coupon templates and the lookup by
code, through the same services, validation and scopes as their mutations."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from tessera.assets import service as assets
from tessera.assets.policy import get_policy, set_policy
from tessera.audit.models import AuditLogEntry
from tessera.coupons.models import CouponTemplate
from tessera.coupons.service import create_template, issue_coupon, redeem_coupon
from tessera.features.service import set_feature
from tessera.idempotency import from_caller
from tessera.scope import BrandScope
from tessera.testing import record_database
from tessera.tiers.definitions import create_tier, update_tier
from tessera.tiers.models import MemberTierState, TierDefinition

BASE = "/admin/brands/brand-a"
TIER_FORM = {
    "code": "gold",
    "name": "Gold",
    "rank": "20",
    "validityMonths": "12",
    "giftPoints": "500",
    "benefit.member_price": "on",
    "benefit.member_price.percent_off": "10",
    "benefit.member_day": "on",
    "benefit.member_day.day_of_month": "8",
    "benefit.member_day.points_multiplier": "2",
}
TEMPLATE_FORM = {
    "kind": "amount_off",
    "title": "20 off 200",
    "amountOff": "20.00",
    "minSpend": "200",
    "validDays": "30",
    "totalStock": "100",
    "active": "on",
}


def version_in(html: str) -> str:
    found = re.search(r'name="form_version" value="([^"]*)"', html)
    assert found is not None, "the form carries no version"
    return found.group(1)


async def actions(scope: BrandScope) -> list[tuple[str, str]]:
    return list(await scope.query(AuditLogEntry).order_by("id").values_list("action", "outcome"))


# --- tiers ---------------------------------------------------------------------


async def test_an_operator_creates_and_edits_a_tier_audited_under_the_mutations(
    admin_client, brand_a
):
    scope = BrandScope(brand_a)
    template = await create_template(
        scope, {"kind": "free_shipping", "title": "Ship free", "valid_days": 7}
    )
    client = await admin_client(brand_a, "operator")
    assert (await client.get(f"{BASE}/tiers/new")).status_code == 200
    created = await client.post(
        f"{BASE}/tiers", {**TIER_FORM, "giftCouponTemplateIds": str(template.id)}
    )
    assert created.status_code == 303, created.text
    [tier] = await scope.query(TierDefinition)
    assert (tier.code, tier.name, tier.rank, tier.validity_months, tier.gift_points) == (
        "gold",
        "Gold",
        20,
        12,
        500,
    )
    assert tier.benefits == [
        {"kind": "member_price", "percent_off": 10},
        {"kind": "member_day", "day_of_month": 8, "points_multiplier": 2},
    ]
    assert tier.gift_coupon_template_ids == [template.id]
    assert created.headers["location"] == f"{BASE}/tiers/{tier.id}"
    form = await client.get(f"{BASE}/tiers/{tier.id}")
    assert 'name="benefit.member_price.percent_off" type="text" value="10"' in form.text
    assert f'value="{template.id}" checked' in form.text
    edited = await client.post(
        f"{BASE}/tiers/{tier.id}",
        {
            **TIER_FORM,
            "name": "Gold+",
            "validityMonths": "",
            "benefit.member_day": "",
            "form_version": version_in(form.text),
        },
    )
    assert edited.status_code == 303
    tier = await scope.get(TierDefinition, tier.id)
    assert tier is not None and tier.name == "Gold+" and tier.validity_months is None
    assert tier.benefits == [{"kind": "member_price", "percent_off": 10}]
    assert tier.gift_coupon_template_ids == []
    assert await actions(scope) == [("createTier", "ok"), ("updateTier", "ok")]
    listed = await client.get(f"{BASE}/tiers")
    assert "Gold+" in listed.text and "Member price" in listed.text


async def test_an_invalid_tier_shows_errors_beside_its_fields_and_saves_nothing(
    admin_client, brand_a
):
    scope = BrandScope(brand_a)
    client = await admin_client(brand_a, "operator")
    refused = await client.post(
        f"{BASE}/tiers",
        {
            **TIER_FORM,
            "code": "Gold Tier",
            "rank": "5000",
            "benefit.member_price.percent_off": "100",
        },
    )
    assert refused.status_code == 422
    assert 'id="code-error"' in refused.text and 'id="rank-error"' in refused.text
    assert 'id="benefit.member_price.percent_off-error"' in refused.text
    assert "less than or equal to 99" in refused.text  # the benefit model's own message
    assert 'value="Gold Tier"' in refused.text  # what was typed stays
    not_a_number = await client.post(f"{BASE}/tiers", {**TIER_FORM, "giftPoints": "lots"})
    assert not_a_number.status_code == 422 and 'id="giftPoints-error"' in not_a_number.text
    assert await scope.query(TierDefinition).count() == 0
    assert await actions(scope) == [("createTier", "rejected")]
    # The same rank twice is the service's DUPLICATE, beside the rank.
    await create_tier(scope, {"code": "silver", "name": "Silver", "rank": 20})
    duplicate = await client.post(f"{BASE}/tiers", TIER_FORM)
    assert duplicate.status_code == 422 and "another tier already has rank 20" in duplicate.text
    assert await scope.query(TierDefinition).count() == 1


async def test_a_stale_tier_form_is_refused_with_the_current_values(admin_client, brand_a):
    scope = BrandScope(brand_a)
    tier = await create_tier(scope, {"code": "gold", "name": "Gold", "rank": 20})
    client = await admin_client(brand_a, "operator")
    opened = await client.get(f"{BASE}/tiers/{tier.id}")
    await update_tier(scope, tier.id, {"name": "Golden"})  # someone else saves
    refused = await client.post(
        f"{BASE}/tiers/{tier.id}",
        {**TIER_FORM, "name": "Mine", "form_version": version_in(opened.text)},
    )
    assert refused.status_code == 409
    assert "Someone changed this after you opened the form" in refused.text
    assert 'name="name" type="text" value="Golden"' in refused.text
    assert (await scope.get(TierDefinition, tier.id)).name == "Golden"  # type: ignore[union-attr]
    saved = await client.post(
        f"{BASE}/tiers/{tier.id}",
        {**TIER_FORM, "name": "Mine", "form_version": version_in(refused.text)},
    )
    assert saved.status_code == 303
    assert (await scope.get(TierDefinition, tier.id)).name == "Mine"  # type: ignore[union-attr]


async def test_a_tier_is_deleted_after_confirmation_unless_members_hold_it(
    admin_client, brand_a, new_member
):
    scope = BrandScope(brand_a)
    held = await create_tier(scope, {"code": "gold", "name": "Gold", "rank": 20})
    spare = await create_tier(scope, {"code": "old", "name": "Old", "rank": 1})
    member = await new_member(brand_a, name="Lin", phone="13700137000")
    await scope.create(
        MemberTierState, member_id=member.pk, tier_id=held.id, since=datetime.now(UTC)
    )
    client = await admin_client(brand_a, "operator")
    unconfirmed = await client.post(f"{BASE}/tiers/{spare.id}/delete")
    assert unconfirmed.status_code == 422 and 'id="confirm-error"' in unconfirmed.text
    in_use = await client.post(f"{BASE}/tiers/{held.id}/delete", {"confirm": "on"})
    assert in_use.status_code == 422 and "cannot be deleted" in in_use.text
    deleted = await client.post(f"{BASE}/tiers/{spare.id}/delete", {"confirm": "on"})
    assert deleted.status_code == 303 and deleted.headers["location"] == f"{BASE}/tiers"
    assert await scope.query(TierDefinition).values_list("code", flat=True) == ["gold"]
    assert await actions(scope) == [("deleteTier", "rejected"), ("deleteTier", "ok")]


async def test_the_tier_list_shows_member_counts_and_the_active_policy(
    admin_client, brand_a, new_member
):
    scope = BrandScope(brand_a)
    gold = await create_tier(scope, {"code": "gold", "name": "Gold", "rank": 20})
    for phone in ("13700137001", "13700137002"):
        member = await new_member(brand_a, phone=phone)
        await scope.create(
            MemberTierState, member_id=member.pk, tier_id=gold.id, since=datetime.now(UTC)
        )
    client = await admin_client(brand_a, "viewer")
    before = await client.get(f"{BASE}/tiers")
    assert "No tier policy is switched on" in before.text
    assert re.search(r'<td class="num">2</td>\s*</tr>', before.text)  # gold's members
    await set_feature(
        scope, "tiers.cumulative_spend", enabled=True, config={"thresholds": {"gold": "5000"}}
    )
    after = await client.get(f"{BASE}/tiers")
    assert "Members move between tiers by:" in after.text
    assert f'href="{BASE}/plugins/tiers.cumulative_spend"' in after.text


# --- the points policy -----------------------------------------------------------------


async def test_the_points_policy_form_saves_through_set_policy(admin_client, brand_a):
    scope = BrandScope(brand_a)
    client = await admin_client(brand_a, "operator")
    form = await client.get(f"{BASE}/points-policy")
    assert 'href="/admin/brands/brand-a/plugins/points.purchase"' in form.text  # the rules
    fields = {
        "expiryMode": "rolling_months",
        "expiryMonths": "24",
        "expiryYears": "1",
        "pendingDays": "7",
        "negativeBalance": "cap_at_zero",
        "expiringSoonDays": "14",
    }
    invalid = await client.post(
        f"{BASE}/points-policy",
        {
            **fields,
            "expiryMonths": "0",
            "expiringSoonDays": "soon",
            "form_version": version_in(form.text),
        },
    )
    assert invalid.status_code == 422
    assert 'id="expiryMonths-error"' in invalid.text and "must be from 1 to 120" in invalid.text
    assert 'id="expiringSoonDays-error"' in invalid.text
    assert (await get_policy(scope)).expiry_months == 12  # unchanged
    saved = await client.post(
        f"{BASE}/points-policy", {**fields, "form_version": version_in(form.text)}
    )
    assert saved.status_code == 303
    policy = await get_policy(scope)
    assert (policy.expiry_mode, policy.expiry_months, policy.pending_days) == (
        "rolling_months",
        24,
        7,
    )
    assert (policy.negative_balance, policy.expiring_soon_days) == ("cap_at_zero", 14)
    assert await actions(scope) == [("setPointsPolicy", "rejected"), ("setPointsPolicy", "ok")]


async def test_a_stale_points_policy_form_is_refused(admin_client, brand_a):
    scope = BrandScope(brand_a)
    client = await admin_client(brand_a, "operator")
    opened = await client.get(f"{BASE}/points-policy")
    await set_policy(scope, pending_days=3)
    refused = await client.post(
        f"{BASE}/points-policy",
        {"pendingDays": "10", "form_version": version_in(opened.text)},
    )
    assert refused.status_code == 409
    assert 'name="pendingDays" type="text" value="3"' in refused.text
    assert (await get_policy(scope)).pending_days == 3


# --- coupon templates --------------------------------------------------------------------


async def test_an_operator_creates_a_template_and_sees_its_stock_and_usage(
    admin_client, brand_a, new_member
):
    scope = BrandScope(brand_a)
    client = await admin_client(brand_a, "operator")
    assert (await client.get(f"{BASE}/coupon-templates/new")).status_code == 200
    created = await client.post(f"{BASE}/coupon-templates", TEMPLATE_FORM)
    assert created.status_code == 303, created.text
    [template] = await scope.query(CouponTemplate)
    assert (template.kind, template.amount_off, template.min_spend) == ("amount_off", 2000, 20000)
    assert (template.valid_days, template.total_stock, template.active) == (30, 100, True)
    member = await new_member(brand_a, phone="13700137000")
    codes = []
    for n in range(3):
        coupon = await issue_coupon(
            scope, template_id=template.id, member_id=member.pk, idempotency_key=f"k{n}"
        )
        codes.append(coupon.code)
    await redeem_coupon(
        scope, code=codes[0], member_id=member.pk, idempotency_key="r", order_amount=30000
    )
    listed = await client.get(f"{BASE}/coupon-templates")
    row = listed.text.split("20 off 200")[1].split("</tr>")[0]
    cells = re.findall(r'<td class="num">([^<]*)</td>', row)
    assert cells == ["100", "3", "1", "97"]  # stock, issued, redeemed, remaining
    assert "¥20.00" in row and "¥200.00" in row  # money in the brand's currency
    assert await actions(scope) == [("createCouponTemplate", "ok")]


async def test_an_invalid_template_shows_errors_beside_its_fields_and_saves_nothing(
    admin_client, brand_a
):
    scope = BrandScope(brand_a)
    client = await admin_client(brand_a, "operator")
    refused = await client.post(
        f"{BASE}/coupon-templates",
        {**TEMPLATE_FORM, "amountOff": "-1", "validDays": "", "percentOff": "10"},
    )
    assert refused.status_code == 422
    assert 'id="amountOff-error"' in refused.text
    assert 'id="percentOff-error"' in refused.text and "only for a PERCENT_OFF" in refused.text
    assert 'id="validUntil-error"' in refused.text  # neither validity given
    bad_date = await client.post(
        f"{BASE}/coupon-templates", {**TEMPLATE_FORM, "validDays": "", "validUntil": "31/12"}
    )
    assert bad_date.status_code == 422 and 'id="validUntil-error"' in bad_date.text
    assert await scope.query(CouponTemplate).count() == 0
    assert await actions(scope) == [("createCouponTemplate", "rejected")]


async def test_editing_a_template_keeps_issued_terms_and_retires_it(
    admin_client, brand_a, new_member
):
    scope = BrandScope(brand_a)
    client = await admin_client(brand_a, "operator")
    await client.post(f"{BASE}/coupon-templates", TEMPLATE_FORM)
    [template] = await scope.query(CouponTemplate)
    member = await new_member(brand_a, phone="13700137000")
    await issue_coupon(scope, template_id=template.id, member_id=member.pk, idempotency_key="k")
    path = f"{BASE}/coupon-templates/{template.id}"
    form = await client.get(path)
    assert 'name="amountOff" type="text" value="20.00"' in form.text
    frozen = await client.post(
        path, {**TEMPLATE_FORM, "amountOff": "30.00", "form_version": version_in(form.text)}
    )
    assert frozen.status_code == 422
    assert 'id="amountOff-error"' in frozen.text and "create a new template" in frozen.text
    retired = await client.post(
        path,
        {
            **TEMPLATE_FORM,
            "title": "Old offer",
            "active": "",
            "form_version": version_in(form.text),
        },
    )
    assert retired.status_code == 303
    template = await scope.get(CouponTemplate, template.id)
    assert template is not None and (template.title, template.active, template.amount_off) == (
        "Old offer",
        False,
        2000,
    )
    in_use = await client.post(f"{path}/delete", {"confirm": "on"})
    assert in_use.status_code == 422 and "set active to false instead" in in_use.text
    assert await actions(scope) == [
        ("createCouponTemplate", "ok"),
        ("updateCouponTemplate", "rejected"),
        ("updateCouponTemplate", "ok"),
        ("deleteCouponTemplate", "rejected"),
    ]


async def test_a_stale_template_form_is_refused_and_an_unused_one_deleted(admin_client, brand_a):
    scope = BrandScope(brand_a)
    template = await create_template(
        scope, {"kind": "free_shipping", "title": "Ship free", "valid_days": 7}
    )
    client = await admin_client(brand_a, "operator")
    path = f"{BASE}/coupon-templates/{template.id}"
    opened = await client.get(path)
    await scope.query(CouponTemplate).filter(id=template.id).update(total_stock=5)
    refused = await client.post(
        path,
        {
            "kind": "free_shipping",
            "title": "Mine",
            "validDays": "7",
            "active": "on",
            "form_version": version_in(opened.text),
        },
    )
    assert refused.status_code == 409
    assert 'name="totalStock" type="text" value="5"' in refused.text
    assert (await scope.get(CouponTemplate, template.id)).title == "Ship free"  # type: ignore[union-attr]
    deleted = await client.post(f"{path}/delete", {"confirm": "on"})
    assert deleted.status_code == 303
    assert await scope.query(CouponTemplate).count() == 0


# --- roles --------------------------------------------------------------------------------------


async def test_viewers_and_analysts_read_but_cannot_change_anything(admin_client, brand_a):
    scope = BrandScope(brand_a)
    tier = await create_tier(scope, {"code": "gold", "name": "Gold", "rank": 20})
    template = await create_template(
        scope, {"kind": "free_shipping", "title": "Ship free", "valid_days": 7}
    )
    before_policy = await get_policy(scope)
    for role in ("viewer", "analyst"):
        client = await admin_client(brand_a, role)
        for path in (
            "/tiers",
            f"/tiers/{tier.id}",
            "/points-policy",
            "/coupon-templates",
            f"/coupon-templates/{template.id}",
            "/lookup",
        ):
            page = await client.get(BASE + path)
            assert page.status_code == 200, path
            assert (
                '<button type="submit">'
                not in page.text.split("<main>")[1].split('class="search')[0]
            ), path  # no save or create button (the lookup's find buttons stay)
            assert 'class="danger"' not in page.text
        assert "New tier" not in (await client.get(f"{BASE}/tiers")).text
        for path in ("/tiers/new", "/coupon-templates/new"):
            assert (await client.get(BASE + path)).status_code == 403
        posts = {
            "/tiers": TIER_FORM,
            f"/tiers/{tier.id}": {**TIER_FORM, "name": "Mine"},
            f"/tiers/{tier.id}/delete": {"confirm": "on"},
            "/points-policy": {"pendingDays": "30"},
            "/coupon-templates": TEMPLATE_FORM,
            f"/coupon-templates/{template.id}": {**TEMPLATE_FORM, "title": "Mine"},
            f"/coupon-templates/{template.id}/delete": {"confirm": "on"},
        }
        for path, form in posts.items():
            refused = await client.post(BASE + path, form)
            assert refused.status_code == 403, path
    assert [(t.code, t.name) for t in await scope.query(TierDefinition)] == [("gold", "Gold")]
    assert [t.title for t in await scope.query(CouponTemplate)] == ["Ship free"]
    assert await get_policy(scope) == before_policy
    outcomes = await actions(scope)
    assert len(outcomes) == 14 and {o for _, o in outcomes} == {"forbidden"}
    assert ("tier_create", "forbidden") in outcomes
    assert ("points_policy_save", "forbidden") in outcomes


# --- lookup by code -----------------------------------------------------------------------------


async def test_a_coupon_and_a_points_write_are_found_by_code_only_in_their_brand(
    admin_client, brand_a, brand_b, new_member
):
    scope_a, scope_b = BrandScope(brand_a), BrandScope(brand_b)
    template_a = await create_template(
        scope_a, {"kind": "free_shipping", "title": "Ship free", "valid_days": 7}
    )
    template_b = await create_template(
        scope_b, {"kind": "free_shipping", "title": "Bee offer", "valid_days": 7}
    )
    lin = await new_member(brand_a, name="Lin", phone="13700137000")
    bee = await new_member(brand_b, name="Secret Bee", phone="+12025550100")
    mine = await issue_coupon(
        scope_a, template_id=template_a.id, member_id=lin.pk, idempotency_key="a"
    )
    theirs = await issue_coupon(
        scope_b, template_id=template_b.id, member_id=bee.pk, idempotency_key="b"
    )
    await assets.adjust_points(
        scope_a, lin.pk, 40, idempotency_key=from_caller("desk-1"), reason="goodwill"
    )
    await assets.adjust_points(
        scope_b, bee.pk, 70, idempotency_key=from_caller("desk-2"), reason="bee reason"
    )
    client = await admin_client(brand_a, "viewer")
    typed = mine.code.lower().replace("-", " ")  # as a cashier might type it
    found = await client.get(f"{BASE}/lookup", params={"code": typed})
    assert found.status_code == 200
    assert mine.code in found.text and "Lin" in found.text and "Ship free" in found.text
    assert ">available<" in found.text
    other = await client.get(f"{BASE}/lookup", params={"code": theirs.code})
    assert "No coupon of this brand has this code." in other.text
    assert "Secret Bee" not in other.text and "Bee offer" not in other.text
    entry = await client.get(f"{BASE}/lookup", params={"key": "desk-1"})
    assert "goodwill" in entry.text and "Lin" in entry.text
    assert re.search(r'<td class="num">40</td>', entry.text)
    other_entry = await client.get(f"{BASE}/lookup", params={"key": "desk-2"})
    assert "No points write of this brand has this key." in other_entry.text
    assert "bee reason" not in other_entry.text


# --- cost ---------------------------------------------------------------------------------------


async def test_the_lists_cost_the_same_queries_for_one_row_or_many(
    admin_client, brand_a, new_member
):
    """Member counts per tier and redemptions per template are one grouped
    query each, not one per row."""
    scope = BrandScope(brand_a)
    member = await new_member(brand_a, phone="13700137000")
    client = await admin_client(brand_a, "viewer")

    async def round_trips(path: str) -> int:
        async with record_database() as log:
            assert (await client.get(BASE + path)).status_code == 200
        return len(log.round_trips)

    async def add(n: int) -> None:
        tier = await create_tier(scope, {"code": f"t{n}", "name": f"T{n}", "rank": n})
        template = await create_template(
            scope, {"kind": "free_shipping", "title": f"Ship {n}", "valid_days": 7}
        )
        await issue_coupon(
            scope, template_id=template.id, member_id=member.pk, idempotency_key=f"k{n}"
        )
        if n == 1:
            await scope.create(
                MemberTierState, member_id=member.pk, tier_id=tier.id, since=datetime.now(UTC)
            )

    await add(1)
    one = (await round_trips("/tiers"), await round_trips("/coupon-templates"))
    for n in range(2, 6):
        await add(n)
    assert (await round_trips("/tiers"), await round_trips("/coupon-templates")) == one


async def test_the_loyalty_pages_speak_chinese(admin_client, brand_a):
    await create_template(
        BrandScope(brand_a),
        {"kind": "amount_off", "title": "满200减20", "amount_off": 2000, "valid_days": 7},
    )
    client = await admin_client(brand_a, "operator")
    zh = {"Accept-Language": "zh-CN"}
    tiers = await client.get(f"{BASE}/tiers/new", headers=zh)
    assert "新建等级" in tiers.text and "会员价" in tiers.text
    templates = await client.get(f"{BASE}/coupon-templates", headers=zh)
    assert "<h1>优惠券模板</h1>" in templates.text and "满减金额" in templates.text
    assert "¥20.00" in templates.text  # the brand's currency, formatted for Chinese
    policy = await client.get(f"{BASE}/points-policy", headers=zh)
    assert "<h1>积分政策</h1>" in policy.text and "积分永不过期" in policy.text
