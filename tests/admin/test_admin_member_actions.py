"""The member profile's support actions (edit profile, stored value, coupon,
member token) go through the services and scopes of their GraphQL mutations:
each works, refuses bad input beside the field changing nothing, replays a
double submit, and is refused to a role without the scope. And the profile
shows the whole member: attributes, tier history, orders with lines, and a
timeline newest first."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tessera.assets import service as assets
from tessera.assets.models import LedgerEntry
from tessera.audit.models import AuditLogEntry
from tessera.auth.member_tokens import authenticate_member_token
from tessera.behaviour.service import EventInput, record_event
from tessera.coupons import service as coupons
from tessera.coupons.models import Coupon
from tessera.members.attributes import AttributeType, DefinitionValues, create_definition
from tessera.members.models import Member
from tessera.orders.inputs import LineInput, MemberRef, OrderInput
from tessera.orders.money import MoneyAmount
from tessera.pipeline.orders import record_order
from tessera.scope import BrandScope
from tessera.tags import service as tags
from tessera.testing import record_database
from tessera.tiers.definitions import create_tier
from tessera.tiers.models import TierHistory

MEMBERS = "/admin/brands/brand-a/members"
VERSION = re.compile(r'name="form_version" value="([^"]+)"')
KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')


async def _audit(scope: BrandScope) -> list[tuple[str, str]]:
    return [(e.action, e.outcome) for e in await scope.query(AuditLogEntry).order_by("id")]


async def _edit_form(client, member_pk: int) -> dict[str, str]:
    """The edit form's fields as the page fills them in."""
    page = await client.get(f"{MEMBERS}/{member_pk}/edit")
    assert page.status_code == 200
    found = dict(
        re.findall(r'<input id="f-[^"]*" name="([^"]+)" type="[^"]+" value="([^"]*)"', page.text)
    )
    for name in ("gender", "status"):
        select = re.search(rf'name="{name}">(.*?)</select>', page.text, re.S)
        assert select
        chosen = re.search(r'<option value="([^"]*)" selected', select.group(1))
        found[name] = chosen.group(1) if chosen else ""
    version, key = VERSION.search(page.text), KEY.search(page.text)
    assert version and key
    return {**found, "form_version": version.group(1), "idempotency_key": key.group(1)}


# --- edit profile -------------------------------------------------------------


async def test_an_operator_edits_the_profile_and_attributes_audited(
    admin_client, brand_a, new_member
):
    scope = BrandScope(brand_a)
    await create_definition(scope, "shoe_size", AttributeType.NUMBER, DefinitionValues("Shoe size"))
    member = await new_member(brand_a, name="Lin", phone="13800138000")
    client = await admin_client(brand_a, "operator")
    form = await _edit_form(client, member.pk)
    # An operator has no pii permission: the phone is shown masked, and sent
    # back as shown it is left as it is.
    assert form["name"] == "Lin" and form["phone"] == "+86138****8000"
    saved = await client.post(
        f"{MEMBERS}/{member.pk}/edit",
        {
            **form,
            "name": "Lin Wei",
            "city": "Hangzhou",
            "interests": "tea，hiking, tea",  # either comma
            "attr.shoe_size": "38",
        },
    )
    assert saved.status_code == 303
    stored = await scope.get(Member, member.pk)
    assert stored and stored.interests == ["tea", "hiking"]
    assert stored and (stored.name, stored.city, stored.attributes) == (
        "Lin Wei",
        "Hangzhou",
        {"shoe_size": 38},
    )
    assert stored.phone == "+8613800138000"
    assert await _audit(scope) == [("updateMember", "ok")]
    profile = await client.get(f"{MEMBERS}/{member.pk}")
    assert "Profile saved." in profile.text and "Shoe size" in profile.text


async def test_an_invalid_profile_shows_the_field_errors_and_changes_nothing(
    admin_client, brand_a, new_member
):
    scope = BrandScope(brand_a)
    await create_definition(scope, "shoe_size", AttributeType.NUMBER, DefinitionValues("Shoe size"))
    member = await new_member(brand_a, name="Lin", phone="13800138000")
    client = await admin_client(brand_a, "operator")
    form = await _edit_form(client, member.pk)
    refused = await client.post(
        f"{MEMBERS}/{member.pk}/edit",
        {**form, "name": "Lin Wei", "email": "not an email", "attr.shoe_size": "big"},
    )
    assert refused.status_code == 422
    assert 'id="email-error"' in refused.text and 'id="attr.shoe_size-error"' in refused.text
    assert 'value="not an email"' in refused.text  # what was typed stays
    stored = await scope.get(Member, member.pk)
    assert stored and (stored.name, stored.email, stored.attributes) == ("Lin", None, {})
    assert await _audit(scope) == [("updateMember", "rejected")]


async def test_a_double_submitted_edit_replays_and_a_stale_one_is_refused(
    admin_client, brand_a, new_member
):
    scope = BrandScope(brand_a)
    member = await new_member(brand_a, name="Lin", phone="13800138000")
    client = await admin_client(brand_a, "operator")
    form = await _edit_form(client, member.pk)
    first = await client.post(f"{MEMBERS}/{member.pk}/edit", {**form, "city": "Hangzhou"})
    again = await client.post(f"{MEMBERS}/{member.pk}/edit", {**form, "city": "Hangzhou"})
    assert first.status_code == again.status_code == 303
    profile = await client.get(f"{MEMBERS}/{member.pk}")
    assert "nothing changed twice" in profile.text
    assert await _audit(scope) == [("updateMember", "ok")]

    # Another form opened before that save (a new key, the old version).
    stale = await client.post(
        f"{MEMBERS}/{member.pk}/edit", {**form, "idempotency_key": "other", "city": "Ningbo"}
    )
    assert stale.status_code == 409 and "Someone changed this" in stale.text
    stored = await scope.get(Member, member.pk)
    assert stored and stored.city == "Hangzhou"
    assert 'value="Hangzhou"' in stale.text  # the current values, to start again from


async def test_a_viewer_cannot_edit_a_profile(admin_client, brand_a, new_member):
    scope = BrandScope(brand_a)
    member = await new_member(brand_a, name="Lin", phone="13800138000")
    viewer = await admin_client(brand_a, "viewer")
    profile = await viewer.get(f"{MEMBERS}/{member.pk}")
    assert "/edit" not in profile.text
    assert (await viewer.get(f"{MEMBERS}/{member.pk}/edit")).status_code == 403
    refused = await viewer.post(
        f"{MEMBERS}/{member.pk}/edit", {"name": "Mallory", "idempotency_key": "k"}
    )
    assert refused.status_code == 403
    stored = await scope.get(Member, member.pk)
    assert stored and stored.name == "Lin"
    assert ("member_save", "forbidden") in await _audit(scope)


# --- stored value -------------------------------------------------------------


async def test_stored_value_is_topped_up_and_spent_with_a_reason_once_per_form(
    admin_client, brand_a, new_member
):
    scope = BrandScope(brand_a)
    member = await new_member(brand_a, name="Lin", phone="13800138000")
    client = await admin_client(brand_a, "operator")
    path = f"{MEMBERS}/{member.pk}/stored-value"
    top_up = {"amount": "100.50", "sv_reason": "gift card", "idempotency_key": "sv-1"}
    assert (await client.post(path, top_up)).status_code == 303
    assert (await client.post(path, top_up)).status_code == 303  # sent twice
    spend = {"amount": "-20", "sv_reason": "paid at the till", "idempotency_key": "sv-2"}
    assert (await client.post(path, spend)).status_code == 303
    entries = await scope.query(LedgerEntry).filter(member_id=member.pk).order_by("id")
    assert [(e.entry_type, e.amount, e.reason, e.actor) for e in entries] == [
        ("top_up", 10050, "gift card", f"admin_user:{client.user.id}"),
        ("spend", -2000, "paid at the till", f"admin_user:{client.user.id}"),
    ]
    assert await _audit(scope) == [
        ("topUpStoredValue", "ok"),
        ("topUpStoredValue", "ok"),
        ("spendStoredValue", "ok"),
    ]
    profile = await client.get(f"{MEMBERS}/{member.pk}")
    balance = re.search(r'id="stored-value-balance">([^<]+)<', profile.text)
    assert balance and balance.group(1) == "CN¥80.50"
    assert "paid at the till" in profile.text and "-CN¥20.00" in profile.text


async def test_bad_stored_value_input_shows_the_field_errors_and_changes_nothing(
    admin_client, brand_a, new_member
):
    scope = BrandScope(brand_a)
    member = await new_member(brand_a, name="Lin", phone="13800138000")
    client = await admin_client(brand_a, "operator")
    path = f"{MEMBERS}/{member.pk}/stored-value"
    no_reason = await client.post(
        path, {"amount": "1.234", "sv_reason": " ", "idempotency_key": "a"}
    )
    assert no_reason.status_code == 422
    assert 'id="sv_reason-error"' in no_reason.text and 'id="amount-error"' in no_reason.text
    assert 'value="1.234"' in no_reason.text
    too_much = await client.post(path, {"amount": "-5", "sv_reason": "r", "idempotency_key": "b"})
    assert too_much.status_code == 422 and 'id="amount-error"' in too_much.text
    # The points form on the same page shows none of these errors.
    assert 'id="points-error"' not in too_much.text
    assert await scope.query(LedgerEntry).filter(member_id=member.pk).count() == 0


async def test_a_viewer_cannot_change_stored_value(admin_client, brand_a, new_member):
    scope = BrandScope(brand_a)
    member = await new_member(brand_a, name="Lin", phone="13800138000")
    viewer = await admin_client(brand_a, "viewer")
    assert "/stored-value" not in (await viewer.get(f"{MEMBERS}/{member.pk}")).text
    refused = await viewer.post(
        f"{MEMBERS}/{member.pk}/stored-value",
        {"amount": "10", "sv_reason": "r", "idempotency_key": "k"},
    )
    assert refused.status_code == 403
    assert await scope.query(LedgerEntry).count() == 0
    assert ("member_stored_value", "forbidden") in await _audit(scope)


# --- coupons ------------------------------------------------------------------


async def test_a_coupon_is_issued_from_a_template_once_per_form(admin_client, brand_a, new_member):
    scope = BrandScope(brand_a)
    member = await new_member(brand_a, name="Lin", phone="13800138000")
    template = await coupons.create_template(
        scope, {"kind": "free_shipping", "title": "Free shipping", "valid_days": 7}
    )
    client = await admin_client(brand_a, "operator")
    profile = await client.get(f"{MEMBERS}/{member.pk}")
    assert f'<option value="{template.id}">Free shipping</option>' in profile.text
    form = {"templateId": str(template.id), "idempotency_key": "c-1"}
    first = await client.post(f"{MEMBERS}/{member.pk}/coupons", form)
    again = await client.post(f"{MEMBERS}/{member.pk}/coupons", form)
    assert first.status_code == again.status_code == 303
    issued = await scope.query(Coupon).filter(member_id=member.pk)
    assert len(issued) == 1
    profile = await client.get(f"{MEMBERS}/{member.pk}")
    assert f"<code>{issued[0].code}</code></td><td>Free shipping</td>" in profile.text
    assert await _audit(scope) == [("issueCoupon", "ok"), ("issueCoupon", "ok")]


async def test_a_coupon_without_a_template_or_out_of_stock_shows_the_error(
    admin_client, brand_a, new_member
):
    scope = BrandScope(brand_a)
    member = await new_member(brand_a, name="Lin", phone="13800138000")
    template = await coupons.create_template(
        scope, {"kind": "free_shipping", "title": "Ship", "valid_days": 7, "total_stock": 0}
    )
    client = await admin_client(brand_a, "operator")
    path = f"{MEMBERS}/{member.pk}/coupons"
    none = await client.post(path, {"templateId": "", "idempotency_key": "a"})
    assert none.status_code == 422 and 'id="templateId-error"' in none.text
    empty = await client.post(path, {"templateId": str(template.id), "idempotency_key": "b"})
    assert empty.status_code == 422 and "were issued" in empty.text
    assert await scope.query(Coupon).count() == 0


async def test_a_viewer_cannot_issue_a_coupon(admin_client, brand_a, new_member):
    scope = BrandScope(brand_a)
    member = await new_member(brand_a, name="Lin", phone="13800138000")
    template = await coupons.create_template(
        scope, {"kind": "free_shipping", "title": "Ship", "valid_days": 7}
    )
    viewer = await admin_client(brand_a, "viewer")
    assert "/coupons" not in (await viewer.get(f"{MEMBERS}/{member.pk}")).text
    refused = await viewer.post(
        f"{MEMBERS}/{member.pk}/coupons", {"templateId": str(template.id), "idempotency_key": "k"}
    )
    assert refused.status_code == 403
    assert await scope.query(Coupon).count() == 0
    assert ("member_coupon", "forbidden") in await _audit(scope)


# --- member token ---------------------------------------------------------------


async def test_a_member_token_is_shown_once_with_its_expiry(admin_client, brand_a, new_member):
    scope = BrandScope(brand_a)
    member = await new_member(brand_a, name="Lin", phone="13800138000")
    client = await admin_client(brand_a, "operator")
    form = {"ttlSeconds": "600", "idempotency_key": "t-1"}
    issued = await client.post(f"{MEMBERS}/{member.pk}/token", form)
    assert issued.status_code == 200 and issued.headers["cache-control"] == "no-store"
    token = re.search(r'id="token-value">([^<]+)<', issued.text)
    assert token and 'id="token-expires"' in issued.text
    principal = await authenticate_member_token(token.group(1))
    assert principal is not None and principal.member_id == member.pk
    again = await client.post(f"{MEMBERS}/{member.pk}/token", form)
    assert again.status_code == 303
    profile = await client.get(f"{MEMBERS}/{member.pk}")
    assert "shown only once" in profile.text and 'id="token-value"' not in profile.text
    entries = await scope.query(AuditLogEntry).order_by("id")
    assert [(e.action, e.outcome) for e in entries] == [("issueMemberToken", "ok")]
    assert token.group(1) not in str(entries[0].details)


async def test_a_member_token_with_a_bad_lifetime_or_for_a_frozen_member_is_refused(
    admin_client, brand_a, new_member
):
    scope = BrandScope(brand_a)
    member = await new_member(brand_a, name="Lin", phone="13800138000")
    client = await admin_client(brand_a, "operator")
    short = await client.post(
        f"{MEMBERS}/{member.pk}/token", {"ttlSeconds": "5", "idempotency_key": "a"}
    )
    assert short.status_code == 422 and 'id="ttlSeconds-error"' in short.text
    assert 'id="token-value"' not in short.text
    await scope.query(Member).filter(id=member.pk).update(status="frozen")
    frozen = await client.post(
        f"{MEMBERS}/{member.pk}/token", {"ttlSeconds": "600", "idempotency_key": "b"}
    )
    assert frozen.status_code == 422 and "cannot have a session" in frozen.text
    assert 'id="token-value"' not in frozen.text
    assert await _audit(scope) == [("issueMemberToken", "rejected")] * 2


async def test_a_viewer_cannot_issue_a_member_token(admin_client, brand_a, new_member):
    scope = BrandScope(brand_a)
    member = await new_member(brand_a, name="Lin", phone="13800138000")
    viewer = await admin_client(brand_a, "viewer")
    assert "/token" not in (await viewer.get(f"{MEMBERS}/{member.pk}")).text
    refused = await viewer.post(
        f"{MEMBERS}/{member.pk}/token", {"ttlSeconds": "600", "idempotency_key": "k"}
    )
    assert refused.status_code == 403 and 'id="token-value"' not in refused.text
    assert await _audit(scope) == [("member_token", "forbidden")]


# --- the profile ----------------------------------------------------------------


async def test_a_member_named_script_is_shown_as_text(admin_client, brand_a, new_member):
    scope = BrandScope(brand_a)
    member = await new_member(brand_a, name="<script>alert(1)</script>", phone="13800138000")
    await assets.top_up_stored_value(
        scope, member.pk, 100, idempotency_key="k", reason="<b>bold</b>"
    )
    client = await admin_client(brand_a, "operator")
    for path in (f"{MEMBERS}/{member.pk}", f"{MEMBERS}/{member.pk}/edit"):
        page = await client.get(path)
        assert "<script>alert(1)" not in page.text and "<b>bold" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


async def test_the_profile_shows_attributes_tier_history_and_order_lines(
    admin_client, brand_a, new_member
):
    scope = BrandScope(brand_a)
    await create_definition(scope, "vip_since", AttributeType.DATE, DefinitionValues("VIP since"))
    member = await new_member(brand_a, name="Lin", phone="13800138000")
    await scope.query(Member).filter(id=member.pk).update(attributes={"vip_since": "2024-05-01"})
    silver = await create_tier(scope, {"code": "silver", "name": "Silver", "rank": 1})
    gold = await create_tier(scope, {"code": "gold", "name": "Gold", "rank": 2})
    at = datetime(2026, 3, 1, 17, 30, tzinfo=UTC)  # 2 March 01:30 in Shanghai
    for tier_from, tier_to, when, source in (
        (None, silver, at, "s1"),
        (silver, gold, at + timedelta(days=30), "s2"),
    ):
        await scope.create(
            TierHistory,
            member_id=member.pk,
            from_tier_id=tier_from.id if tier_from else None,
            to_tier_id=tier_to.id,
            reason="upgrade",
            source=source,
            at=when,
        )
    await record_order(
        scope,
        OrderInput(
            external_id="ORD-9",
            member=MemberRef(member_id=member.pk),
            occurred_at=at,
            amount_paid=MoneyAmount(Decimal("99.00"), "CNY"),
            lines=[
                LineInput(
                    sku="TEA-1",
                    quantity=3,
                    unit_price=MoneyAmount(Decimal("33.00"), "CNY"),
                    name="Oolong",
                )
            ],
        ),
    )
    client = await admin_client(brand_a, "viewer")
    page = (await client.get(f"{MEMBERS}/{member.pk}")).text
    assert "VIP since" in page and "2024-05-01" in page
    history = page[page.index('id="tier-history"') :]
    rows = re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td><td>([^<]+)</td>", history)
    assert [(frm, to) for _, frm, to in rows[:2]] == [("Silver", "Gold"), ("—", "Silver")]
    assert rows[1][0] == "Mar 2, 2026, 1:30:00\u202fAM"  # the brand's time zone
    assert "ORD-9" in page and "Oolong" in page and "CN¥33.00" in page


async def test_the_timeline_merges_sources_newest_first(admin_client, brand_a, new_member):
    scope = BrandScope(brand_a)
    member = await new_member(brand_a, name="Lin", phone="13800138000")
    now = datetime.now(UTC)
    await record_event(
        scope,
        EventInput(
            event_id="e-1",
            member=MemberRef(member_id=member.pk),
            type="product.viewed",
            occurred_at=now - timedelta(days=3),
        ),
    )
    await assets.earn_points(
        scope,
        member.pk,
        5,
        idempotency_key="p",
        reason="welcome",
        source_type="test",
        now=now - timedelta(days=2),
    )
    template = await coupons.create_template(
        scope, {"kind": "free_shipping", "title": "Ship", "valid_days": 7}
    )
    await coupons.issue_coupon(
        scope,
        template_id=template.id,
        member_id=member.pk,
        idempotency_key="c",
        now=now - timedelta(days=1),
    )
    await tags.create_tag(scope, "vip", "VIP")
    await tags.tag_members(scope, ["vip"], member_ids=[member.pk])  # now
    client = await admin_client(brand_a, "viewer")
    page = (await client.get(f"{MEMBERS}/{member.pk}")).text
    timeline = page[page.index('id="timeline"') :]
    assert re.findall(r'<li data-kind="(\w+)">', timeline) == ["tag", "coupon", "ledger", "event"]
    assert "product.viewed" in timeline and "welcome" in timeline


async def test_the_ledger_history_pages_on(admin_client, brand_a, new_member):
    scope = BrandScope(brand_a)
    member = await new_member(brand_a, name="Lin", phone="13800138000")
    start = datetime.now(UTC) - timedelta(days=30)
    for n in range(25):
        await assets.earn_points(
            scope,
            member.pk,
            n + 1,
            idempotency_key=f"p{n}",
            reason=f"r-{n + 1}.",
            source_type="test",
            now=start + timedelta(hours=n),
        )
    client = await admin_client(brand_a, "viewer")
    first = (await client.get(f"{MEMBERS}/{member.pk}")).text
    ledger = first[first.index('id="ledger"') : first.index("</table>", first.index('id="ledger"'))]
    assert ledger.count("<tr>") == 21  # the head and 20 entries
    assert "r-25." in ledger and "r-6." in ledger and "r-5." not in ledger
    assert "ledger_page=2" in first
    older = (await client.get(f"{MEMBERS}/{member.pk}", params={"ledger_page": "2"})).text
    ledger = older[older.index('id="ledger"') : older.index("</table>", older.index('id="ledger"'))]
    assert ledger.count("<tr>") == 6 and "r-5." in ledger and "r-6." not in ledger
    assert "ledger_page=1" in older and "ledger_page=3" not in older


async def test_the_profile_costs_the_same_queries_however_long_the_history(
    admin_client, brand_a, new_member
):
    scope = BrandScope(brand_a)
    template = await coupons.create_template(
        scope, {"kind": "free_shipping", "title": "Ship", "valid_days": 7}
    )
    await tags.create_tag(scope, "vip", "VIP")
    await tags.create_tag(scope, "new", "New")

    async def member_with(n: int) -> int:
        member = await new_member(brand_a, name=f"M{n}", phone=f"1380013800{n}")
        for i in range(n):
            key = f"{n}-{i}"
            await assets.earn_points(
                scope, member.pk, 5, idempotency_key=key, reason="r", source_type="test"
            )
            await coupons.issue_coupon(
                scope, template_id=template.id, member_id=member.pk, idempotency_key=key
            )
            await record_event(
                scope,
                EventInput(
                    event_id=key,
                    member=MemberRef(member_id=member.pk),
                    type="page.viewed",
                    occurred_at=datetime.now(UTC),
                ),
            )
            await record_order(
                scope,
                OrderInput(
                    external_id=f"O-{key}",
                    member=MemberRef(member_id=member.pk),
                    occurred_at=datetime.now(UTC),
                    amount_paid=MoneyAmount(Decimal("10.00"), "CNY"),
                    lines=[
                        LineInput(
                            sku=f"S{j}", quantity=1, unit_price=MoneyAmount(Decimal("5.00"), "CNY")
                        )
                        for j in range(2)
                    ],
                ),
            )
        await tags.tag_members(scope, ["vip", "new"][:n], member_ids=[member.pk])
        return member.pk

    short, long = await member_with(1), await member_with(2 * 3)
    client = await admin_client(brand_a, "operator")
    costs = []
    for pk in (short, long):
        async with record_database() as log:
            page = await client.get(f"{MEMBERS}/{pk}")
        assert page.status_code == 200
        costs.append(len(log.round_trips))
    assert costs[0] == costs[1]


async def test_the_profile_in_chinese_formats_for_the_brand(admin_client, brand_a, new_member):
    scope = BrandScope(brand_a)
    member = await new_member(brand_a, name="Lin", phone="13800138000")
    await assets.top_up_stored_value(
        scope,
        member.pk,
        123450,
        idempotency_key="k",
        reason="gift card",
        now=datetime(2026, 3, 1, 17, 30, tzinfo=UTC),
    )
    client = await admin_client(brand_a, "operator")
    page = (await client.get(f"{MEMBERS}/{member.pk}", headers={"accept-language": "zh-CN"})).text
    for label in ("时间线", "调整储值", "发放优惠券", "签发会员令牌", "编辑资料"):
        assert label in page
    assert "¥1,234.50" in page and "2026年3月2日 01:30:00" in page


async def test_each_form_of_the_profile_carries_its_own_key(admin_client, brand_a, new_member):
    # The four forms once shared one key: the second form sent from a page
    # could be taken for a replay of the first.
    member = await new_member(brand_a, name="Lin", phone="13800138000")
    client = await admin_client(brand_a, "owner")
    page = await client.get(f"{MEMBERS}/{member.pk}")
    keys = re.findall(r'name="idempotency_key" value="([0-9a-f]+)"', page.text)
    assert len(keys) >= 4 and len(set(keys)) == len(keys)
