"""The People page and the person panel of a member's profile: shown to a
tenant owner (owner of every brand of the tenant), with the person's members
in each brand; refused to an owner of one brand only, who also cannot issue a
key with the persons scope."""

from __future__ import annotations

import re

import pytest

from tessera.auth.admin_users import roles_of
from tessera.auth.scopes import Scope
from tessera.members import service
from tessera.scope import BrandScope
from tessera.tenancy.service import create_brand, create_tenant
from tessera.testing import drain_outbox


@pytest.fixture
async def shops(tessera_db):
    await create_tenant("group", "Group")
    tea = await create_brand("group", "tea", "Tea", currency="CNY", timezone="Asia/Shanghai")
    shoes = await create_brand("group", "shoes", "Shoes", currency="USD", timezone="Asia/Shanghai")
    a = await service.create_member(BrandScope(tea), {"name": "Li Tea", "phone": "13800138000"})
    b = await service.create_member(BrandScope(shoes), {"name": "Li Shoes", "phone": "13800138000"})
    c = await service.create_member(BrandScope(tea), {"name": "Alone", "phone": "13900139000"})
    await drain_outbox()
    return tea, shoes, a, b, c


async def test_a_tenant_owner_finds_the_person_and_sees_the_panel(shops, admin_client):
    tea, shoes, a, b, c = shops
    client = await admin_client(tea, "owner", also=(shoes,))
    assert any(Scope.PERSONS in r.scopes for r in await roles_of(client.user))
    page = await client.get(
        "/admin/brands/tea/people", params={"kind": "phone", "value": "138 0013 8000"}
    )
    assert page.status_code == 200, page.text
    assert 'href="/admin/brands/tea/people"' in page.text  # in the menu
    found = page.text.split('id="person-found"', 1)[1]
    assert "Li Tea" in found and "Li Shoes" in found
    assert f'href="/admin/brands/shoes/members/{b.id}"' in found
    assert "$" in found or "US$" in found  # the shoes brand's currency

    profile = await client.get(f"/admin/brands/tea/members/{a.id}")
    panel = profile.text.split('id="person-panel"', 1)[1].split("</section>", 1)[0]
    assert "Li Shoes" in panel and 'id="person-members"' in panel
    alone = await client.get(f"/admin/brands/tea/members/{c.id}")
    panel = alone.text.split('id="person-panel"', 1)[1].split("</section>", 1)[0]
    assert "Li Tea" not in panel and "Li Shoes" not in panel  # only itself

    keys = await client.get("/admin/brands/tea/api-keys")
    assert 'value="persons"' in keys.text


async def test_an_unknown_identity_and_a_bad_phone(shops, admin_client):
    tea, shoes, *_ = shops
    client = await admin_client(tea, "owner", also=(shoes,))
    page = await client.get(
        "/admin/brands/tea/people", params={"kind": "phone", "value": "13700137000"}
    )
    assert page.status_code == 200 and 'id="person-none"' in page.text
    bad = await client.get("/admin/brands/tea/people", params={"kind": "phone", "value": "12"})
    assert bad.status_code == 422 and 'id="value-error"' in bad.text
    odd = await client.get("/admin/brands/tea/people", params={"kind": "email", "value": "a@b.c"})
    assert odd.status_code == 422 and 'id="kind-error"' in odd.text


async def test_an_owner_of_one_brand_sees_no_person(shops, admin_client):
    tea, _, a, *_ = shops
    client = await admin_client(tea, "owner")
    assert (await client.get("/admin/brands/tea/people")).status_code == 403
    profile = await client.get(f"/admin/brands/tea/members/{a.id}")
    assert profile.status_code == 200
    assert 'id="person-panel"' not in profile.text and "Li Shoes" not in profile.text
    assert "/people" not in profile.text  # not in the menu
    keys = await client.get("/admin/brands/tea/api-keys")
    assert 'value="persons"' not in keys.text
    refused = await client.post(
        "/admin/brands/tea/api-keys/new",
        {"name": "sneaky", "scopes": ["read", "persons"], "idempotency_key": "k-1"},
    )
    assert refused.status_code == 422
    assert re.search(r"only an owner of every brand", refused.text)
