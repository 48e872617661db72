"""The admin pages call the same services with the same permissions as
GraphQL: what each role may see and do, and that a refusal changes nothing."""

from __future__ import annotations

import re

from tessera.assets import service as assets
from tessera.assets.models import LedgerEntry
from tessera.audit.models import AuditLogEntry
from tessera.auth.api_keys import authenticate
from tessera.auth.models import ApiKey
from tessera.scope import BrandScope
from tessera.tags import service as tags
from tessera.tags.models import TagAssignment
from tessera.tenancy.service import create_brand

MEMBERS = "/admin/brands/brand-a/members"


async def test_the_dashboard_shows_the_brands_figures(admin_client, brand_a, new_member):
    member = await new_member(brand_a, name="Lin", phone="13800138000")
    await assets.earn_points(
        BrandScope(brand_a), member.pk, 1234, idempotency_key="k", reason="", source_type="test"
    )
    client = await admin_client(brand_a, "viewer")
    page = await client.get("/admin/brands/brand-a/")
    assert page.status_code == 200
    figures = dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]+)</dd>", page.text))
    assert figures["Members"] == "1"
    assert figures["New this week"] == "1"
    assert figures["Points liability"] == "1,234"
    assert figures["Orders this month"] == "0"
    assert figures["Sales this month"] == "CN¥0.00"


async def test_members_are_found_by_phone_card_name_or_external_id(
    admin_client, brand_a, new_member
):
    lin = await new_member(brand_a, name="Lin Wei", phone="13800138000", external_id="crm-77")
    other = await new_member(brand_a, name="Zhang", phone="13900139000")
    client = await admin_client(brand_a, "viewer")
    for query in ("138 0013 8000", lin.card_number, "Lin W", "crm-77"):
        page = await client.get(MEMBERS, params={"q": query})
        assert f'/members/{lin.pk}"' in page.text, query
        assert f'/members/{other.pk}"' not in page.text, query
    htmx = await client.get(MEMBERS, params={"q": "Zhang"}, headers={"HX-Request": "true"})
    assert "<html" not in htmx.text and f'/members/{other.pk}"' in htmx.text


async def test_the_profile_shows_identities_tags_balances_and_ledger(
    admin_client, brand_a, new_member
):
    scope = BrandScope(brand_a)
    member = await new_member(brand_a, name="Lin", phone="13800138000", email="lin@example.com")
    await tags.create_tag(scope, "vip", "VIP")
    await tags.tag_members(scope, ["vip"], member_ids=[member.pk])
    await assets.earn_points(
        scope, member.pk, 300, idempotency_key="k", reason="welcome gift", source_type="test"
    )
    client = await admin_client(brand_a, "viewer")
    page = await client.get(f"{MEMBERS}/{member.pk}")
    assert page.status_code == 200
    # A viewer has no pii permission: phone and email masked (test_personal_data.py).
    for expected in ("+86138****8000", "l***@example.com", "VIP", "welcome gift", "300"):
        assert expected in page.text
    assert "+8613800138000" not in page.text and "lin@example.com" not in page.text
    # A viewer sees no forms for actions it may not take.
    # (The menu links to the points policy and the brand's tag list; the member's
    # own forms are what must not show.)
    assert f"{member.pk}/points" not in page.text and f"{member.pk}/tags" not in page.text


async def test_an_operator_tags_and_untags_a_member_audited(admin_client, brand_a, new_member):
    scope = BrandScope(brand_a)
    member = await new_member(brand_a, name="Lin", phone="13700137000")
    await tags.create_tag(scope, "vip", "VIP")
    client = await admin_client(brand_a, "operator")
    added = await client.post(f"{MEMBERS}/{member.pk}/tags", {"tag": "vip"})
    assert added.status_code == 303
    assert await scope.query(TagAssignment).filter(member_id=member.pk).count() == 1
    refused = await client.post(f"{MEMBERS}/{member.pk}/tags", {"tag": "nope"})
    assert refused.status_code == 422 and "nope" in refused.text
    removed = await client.post(f"{MEMBERS}/{member.pk}/tags/remove", {"tag": "vip"})
    assert removed.status_code == 303
    assert await scope.query(TagAssignment).filter(member_id=member.pk).count() == 0
    entries = await scope.query(AuditLogEntry).order_by("id")
    assert [(e.actor_kind, e.actor_id, e.action, e.outcome) for e in entries] == [
        ("admin_user", str(client.user.id), "tagMembers", "ok"),
        ("admin_user", str(client.user.id), "tagMembers", "rejected"),
        ("admin_user", str(client.user.id), "untagMembers", "ok"),
    ]


async def test_an_owner_adjusts_points_with_a_reason_once_per_form(
    admin_client, brand_a, new_member
):
    scope = BrandScope(brand_a)
    member = await new_member(brand_a, name="Lin", phone="13700137000")
    client = await admin_client(brand_a, "owner")
    path = f"{MEMBERS}/{member.pk}/points"
    form = {"points": "50", "reason": "goodwill", "idempotency_key": "form-1"}
    first = await client.post(path, form)
    assert first.status_code == 303
    again = await client.post(path, form)  # the same form sent twice
    assert again.status_code == 303
    entries = await scope.query(LedgerEntry).filter(member_id=member.pk)
    assert [(e.amount, e.reason, e.actor) for e in entries] == [
        (50, "goodwill", f"admin_user:{client.user.id}")
    ]
    profile = await client.get(f"{MEMBERS}/{member.pk}")
    assert "nothing changed twice" in profile.text and "goodwill" in profile.text


async def test_a_points_adjustment_without_a_reason_shows_the_field_error_and_changes_nothing(
    admin_client, brand_a, new_member
):
    scope = BrandScope(brand_a)
    member = await new_member(brand_a, name="Lin", phone="13700137000")
    client = await admin_client(brand_a, "owner")
    path = f"{MEMBERS}/{member.pk}/points"
    no_reason = await client.post(path, {"points": "50", "reason": " ", "idempotency_key": "a"})
    assert no_reason.status_code == 422
    assert 'id="reason-error"' in no_reason.text and "say why" in no_reason.text
    not_a_number = await client.post(path, {"points": "5x", "reason": "r", "idempotency_key": "b"})
    assert not_a_number.status_code == 422 and 'id="points-error"' in not_a_number.text
    assert 'value="5x"' in not_a_number.text  # what was typed stays
    assert await scope.query(LedgerEntry).filter(member_id=member.pk).count() == 0


async def test_roles_without_the_permission_get_403_and_nothing_changes(
    admin_client, brand_a, new_member
):
    scope = BrandScope(brand_a)
    member = await new_member(brand_a, name="Lin", phone="13700137000")
    await tags.create_tag(scope, "vip", "VIP")
    operator = await admin_client(brand_a, "operator")
    analyst = await admin_client(brand_a, "analyst")
    refused = await analyst.post(
        f"{MEMBERS}/{member.pk}/points", {"points": "50", "reason": "r", "idempotency_key": "x"}
    )
    assert refused.status_code == 403
    for role in ("viewer", "analyst"):
        reader = await admin_client(brand_a, role)
        assert (await reader.post(f"{MEMBERS}/{member.pk}/tags", {"tag": "vip"})).status_code == 403
        assert (await reader.get("/admin/brands/brand-a/api-keys")).status_code == 403
    assert (await operator.get("/admin/brands/brand-a/api-keys")).status_code == 403
    assert (
        await operator.post("/admin/brands/brand-a/api-keys/new", {"name": "k", "scopes": "admin"})
    ).status_code == 403
    assert await scope.query(LedgerEntry).count() == 0
    assert await scope.query(TagAssignment).count() == 0
    assert await scope.query(ApiKey).count() == 0
    outcomes = await scope.query(AuditLogEntry).values_list("action", "outcome")
    assert ("member_points", "forbidden") in outcomes and (
        "api_key_create",
        "forbidden",
    ) in outcomes


async def test_the_menu_lists_only_what_the_role_may_open(admin_client, brand_a):
    owner = await admin_client(brand_a, "owner")
    operator = await admin_client(brand_a, "operator")
    owner_page = (await owner.get("/admin/brands/brand-a/")).text
    operator_page = (await operator.get("/admin/brands/brand-a/")).text
    assert "/api-keys" in owner_page and "/audit" in owner_page
    assert "/api-keys" not in operator_page and "/audit" not in operator_page
    assert "/members" in operator_page


async def test_an_api_key_is_created_its_secret_shown_once_and_revoked(admin_client, brand_a):
    client = await admin_client(brand_a, "owner")
    created = await client.post(
        "/admin/brands/brand-a/api-keys/new", {"name": "till", "scopes": ["read", "write"]}
    )
    assert created.status_code == 200
    assert created.headers["cache-control"] == "no-store"
    token = re.search(r'<code id="new-key">([^<]+)</code>', created.text).group(1)
    principal = await authenticate(token)
    assert principal is not None and {s.value for s in principal.scopes} == {"read", "write"}
    listing = await client.get("/admin/brands/brand-a/api-keys")
    assert token not in listing.text and "till" in listing.text
    revoked = await client.post(f"/admin/brands/brand-a/api-keys/{principal.key_id}/revoke")
    assert revoked.status_code == 303
    assert await authenticate(token) is None
    actions = await BrandScope(brand_a).query(AuditLogEntry).values_list("action", "outcome")
    assert actions == [("createApiKey", "ok"), ("revokeApiKey", "ok")]
    assert token not in str(await BrandScope(brand_a).query(AuditLogEntry).values_list("details"))


async def test_a_key_without_scopes_shows_the_field_error(admin_client, brand_a):
    client = await admin_client(brand_a, "owner")
    refused = await client.post("/admin/brands/brand-a/api-keys/new", {"name": "k"})
    assert refused.status_code == 422 and 'id="scopes-error"' in refused.text
    assert await BrandScope(brand_a).query(ApiKey).count() == 0


async def test_the_audit_log_filters_by_who_what_and_outcome(admin_client, brand_a, new_member):
    scope = BrandScope(brand_a)
    member = await new_member(brand_a, name="Lin", phone="13700137000")
    await tags.create_tag(scope, "vip", "VIP")
    owner = await admin_client(brand_a, "owner")
    await owner.post(f"{MEMBERS}/{member.pk}/tags", {"tag": "vip"})
    await owner.post(f"{MEMBERS}/{member.pk}/tags", {"tag": "nope"})
    await owner.post("/admin/brands/brand-a/api-keys/new", {"name": "k", "scopes": "read"})

    def rows(html: str) -> list[str]:
        body = html.split('<table class="list" id="audit">')[1]
        return re.findall(r"<td>(tagMembers|createApiKey)</td><td>(\w+)</td>", body)

    everything = await owner.get("/admin/brands/brand-a/audit")
    assert rows(everything.text) == [
        ("createApiKey", "ok"),
        ("tagMembers", "rejected"),
        ("tagMembers", "ok"),
    ]
    rejected = await owner.get("/admin/brands/brand-a/audit", params={"outcome": "rejected"})
    assert rows(rejected.text) == [("tagMembers", "rejected")]
    keys = await owner.get("/admin/brands/brand-a/audit", params={"action": "apikey"})
    assert rows(keys.text) == [("createApiKey", "ok")]
    by_other = await owner.get("/admin/brands/brand-a/audit", params={"actor": "999999"})
    assert rows(by_other.text) == []
    by_me = await owner.get("/admin/brands/brand-a/audit", params={"actor": str(owner.user.id)})
    assert len(rows(by_me.text)) == 3


async def test_the_switcher_lists_only_brands_the_user_holds_a_role_on(
    admin_client, brand_a, brand_b
):
    sister = await create_brand("t-brand-a", "brand-a2", "Sister brand")
    await create_brand("t-brand-a", "brand-a3", "Unassigned brand")
    client = await admin_client(brand_a, "owner", also=(sister,))
    page = (await client.get("/admin/brands/brand-a/")).text
    switcher = page.split('id="brand-switch"')[1].split("</select>")[0]
    assert "Sister brand" in switcher and "Brand BRAND-A" in switcher
    assert "Unassigned brand" not in switcher and "Brand BRAND-B" not in switcher
    switched = await client.get("/admin/switch", params={"brand": "brand-a2"})
    assert switched.headers["location"] == "/admin/brands/brand-a2/"
    assert (await client.get("/admin/switch", params={"brand": "brand-a3"})).status_code == 404
    assert (await client.get("/admin/brands/brand-a3/")).status_code == 404
