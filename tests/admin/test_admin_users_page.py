"""The admin users and roles page: owners add users, change and remove
roles through the functions `tessera create-admin-user` uses; nobody else
may, no brand sees another's users, and a brand always keeps an owner."""

from __future__ import annotations

import re

from admin_http import sign_in

from tessera.audit.models import AuditLogEntry
from tessera.auth.models import AdminRole, AdminUser
from tessera.scope import BrandScope
from tessera.tenancy.service import create_brand

PAGE = "/admin/brands/brand-a/admin-users"
VERSION = re.compile(r'name="form_version" value="([^"]+)"')


def _version(html: str, user_id: int) -> str:
    row = html[html.index(f'id="admin-user-{user_id}"') :]
    found = VERSION.search(row)
    assert found
    return found.group(1)


async def _roles(brand) -> dict[str, str]:
    rows = await BrandScope(brand).query(AdminRole).select_related("admin_user")
    return {r.admin_user.email: r.role for r in rows}


async def test_an_owner_adds_a_user_who_signs_in_with_the_password_shown_once(
    admin_client, brand_a, http
):
    owner = await admin_client(brand_a, "owner")
    page = await owner.get(PAGE)
    assert page.status_code == 200 and owner.user.email in page.text
    added = await owner.post(f"{PAGE}/new", {"email": "New.Person@Example.com", "role": "analyst"})
    assert added.status_code == 200 and added.headers["cache-control"] == "no-store"
    password = re.search(r'<code id="new-password">([^<]+)</code>', added.text)
    assert password, added.text
    assert (await _roles(brand_a))["new.person@example.com"] == "analyst"
    signed_in = await sign_in(http, "new.person@example.com", password.group(1))
    assert signed_in.status_code == 303
    # The password is not shown again.
    assert password.group(1) not in (await owner.get(PAGE)).text
    actions = await BrandScope(brand_a).query(AuditLogEntry).values_list("action", "outcome")
    assert ("grantAdminRole", "ok") in actions and ("createAdminUser", "ok") in actions


async def test_an_existing_user_of_the_tenant_gets_the_role_without_a_new_password(
    admin_client, admin_user, brand_a
):
    sister = await create_brand("t-brand-a", "brand-a2", "Sister brand")
    colleague = await admin_user(sister, "operator", email="colleague@example.com")
    owner = await admin_client(brand_a, "owner")
    added = await owner.post(f"{PAGE}/new", {"email": "colleague@example.com", "role": "viewer"})
    assert added.status_code == 303
    assert "new-password" not in (await owner.get(PAGE)).text
    assert (await _roles(brand_a))["colleague@example.com"] == "viewer"
    assert (await _roles(sister))["colleague@example.com"] == "operator"
    assert (await AdminUser.get(id=colleague.id)).password_hash == colleague.password_hash


async def test_bad_input_shows_beside_the_field_and_adds_nobody(
    admin_client, admin_user, brand_a, brand_b
):
    await admin_user(brand_b, "owner", email="other.tenant@example.com")
    owner = await admin_client(brand_a, "owner")
    before = await AdminUser.all().count()
    for form, field in (
        ({"email": "not an email", "role": "viewer"}, "email"),
        ({"email": "ok@example.com", "role": "king"}, "role"),
        ({"email": "other.tenant@example.com", "role": "viewer"}, "email"),
    ):
        refused = await owner.post(f"{PAGE}/new", form)
        assert refused.status_code == 422, form
        assert f'id="{field}-error"' in refused.text, form
    assert await AdminUser.all().count() == before
    assert "other.tenant@example.com" not in await _roles(brand_a)


async def test_an_owner_changes_and_removes_a_role_audited(admin_client, admin_user, brand_a):
    analyst = await admin_user(brand_a, "analyst", email="analyst@example.com")
    owner = await admin_client(brand_a, "owner")
    page = await owner.get(PAGE)
    changed = await owner.post(
        f"{PAGE}/{analyst.id}/role",
        {"role": "operator", "form_version": _version(page.text, analyst.id)},
    )
    assert changed.status_code == 303
    assert (await _roles(brand_a))["analyst@example.com"] == "operator"
    page = await owner.get(PAGE)
    removed = await owner.post(
        f"{PAGE}/{analyst.id}/remove", {"form_version": _version(page.text, analyst.id)}
    )
    assert removed.status_code == 303
    assert "analyst@example.com" not in await _roles(brand_a)
    assert await AdminUser.filter(id=analyst.id).exists()  # the user stays, without the role
    entries = await BrandScope(brand_a).query(AuditLogEntry).order_by("id")
    assert [(e.action, e.outcome, e.actor_id) for e in entries[-2:]] == [
        ("grantAdminRole", "ok", str(owner.user.id)),
        ("revokeAdminRole", "ok", str(owner.user.id)),
    ]


async def test_a_stale_role_form_is_refused(admin_client, admin_user, brand_a):
    analyst = await admin_user(brand_a, "analyst", email="analyst@example.com")
    owner = await admin_client(brand_a, "owner")
    opened = _version((await owner.get(PAGE)).text, analyst.id)
    await admin_user(brand_a, "viewer", email="analyst@example.com")  # someone else's change
    for path, form in (("role", {"role": "owner"}), ("remove", {})):
        stale = await owner.post(f"{PAGE}/{analyst.id}/{path}", {**form, "form_version": opened})
        assert stale.status_code == 409 and "Someone changed this" in stale.text
    assert (await _roles(brand_a))["analyst@example.com"] == "viewer"


async def test_the_last_owner_keeps_the_role(admin_client, admin_user, brand_a):
    owner = await admin_client(brand_a, "owner")
    me = owner.user.id
    for path, form in (("role", {"role": "operator"}), ("remove", {})):
        refused = await owner.post(f"{PAGE}/{me}/{path}", form)
        assert refused.status_code == 422
        assert "last owner" in refused.text
    assert await _roles(brand_a) == {owner.user.email: "owner"}
    # With a second owner, the first may step down.
    second = await admin_user(brand_a, "owner", email="second@example.com")
    assert (await owner.post(f"{PAGE}/{me}/role", {"role": "viewer"})).status_code == 303
    assert await _roles(brand_a) == {owner.user.email: "viewer", second.email: "owner"}
    outcomes = await BrandScope(brand_a).query(AuditLogEntry).values_list("action", "outcome")
    assert outcomes.count(("grantAdminRole", "rejected")) == 1
    assert outcomes.count(("revokeAdminRole", "rejected")) == 1


async def test_other_roles_get_403_and_change_nothing(admin_client, admin_user, brand_a):
    target = await admin_user(brand_a, "viewer", email="target@example.com")
    before = await _roles(brand_a)
    for role in ("operator", "analyst", "viewer"):
        client = await admin_client(brand_a, role)
        before[client.user.email] = role
        assert (await client.get(PAGE)).status_code == 403
        for path, form in (
            ("new", {"email": "intruder@example.com", "role": "owner"}),
            (f"{target.id}/role", {"role": "owner"}),
            (f"{target.id}/remove", {}),
            (f"{client.user.id}/role", {"role": "owner"}),
        ):
            assert (await client.post(f"{PAGE}/{path}", form)).status_code == 403, (role, path)
        assert (
            'href="/admin/brands/brand-a/admin-users"'
            not in (await client.get("/admin/brands/brand-a/")).text
        )
    assert await _roles(brand_a) == before
    assert not await AdminUser.filter(email="intruder@example.com").exists()


async def test_one_brands_owner_neither_sees_nor_changes_anothers_users(
    admin_client, admin_user, brand_a, brand_b
):
    other = await admin_user(brand_b, "analyst", email="b.analyst@example.com")
    owner_a = await admin_client(brand_a, "owner")
    page = await owner_a.get(PAGE)
    assert "b.analyst@example.com" not in page.text
    assert (await owner_a.get("/admin/brands/brand-b/admin-users")).status_code == 404
    for path in (f"{other.id}/role", f"{other.id}/remove"):
        response = await owner_a.post(f"{PAGE}/{path}", {"role": "owner"})
        assert response.status_code == 404
    assert await _roles(brand_b) == {"b.analyst@example.com": "analyst"}


async def test_removing_your_own_role_leaves_the_brand(admin_client, admin_user, brand_a):
    await admin_user(brand_a, "owner", email="second@example.com")
    owner = await admin_client(brand_a, "owner")
    left = await owner.post(f"{PAGE}/{owner.user.id}/remove")
    assert left.status_code == 303 and left.headers["location"] == "/admin/"
    assert owner.user.email not in await _roles(brand_a)
    assert (await owner.get(PAGE)).status_code == 404
