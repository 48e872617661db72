"""The admin UI shows identity values masked to roles without the pii
permission and in full to owners, one audit entry per page (docs/privacy.md)."""

from __future__ import annotations

import re

from tessera.audit.models import AuditLogEntry
from tessera.members import pii
from tessera.members.models import Member
from tessera.scope import BrandScope

MEMBERS = "/admin/brands/brand-a/members"
CLEAR = ("+8613800138000", "lin@example.com", "oX1aAbCdEfGh9f2Q")
MASKED = ("+86138****8000", "l***@example.com", "oX1a…9f2Q")


async def _lin(new_member, brand):
    return await new_member(
        brand,
        name="Lin",
        phone="13800138000",
        email="lin@example.com",
        identities=[("wechat_openid", "oX1aAbCdEfGh9f2Q")],
    )


async def _reads(brand) -> list[dict]:
    rows = await AuditLogEntry.filter(brand_id=brand.id, action=pii.READ_ACTION).order_by("id")
    return [row.details for row in rows]


async def test_an_operator_sees_identities_masked_on_every_member_page(
    admin_client, brand_a, new_member
):
    member = await _lin(new_member, brand_a)
    client = await admin_client(brand_a, "operator")
    pages = [
        await client.get(MEMBERS, params={"q": "13800138000"}),
        await client.get(MEMBERS, params={"q": "Lin"}, headers={"HX-Request": "true"}),
        await client.get(f"{MEMBERS}/{member.pk}"),
        await client.get(f"{MEMBERS}/{member.pk}/edit"),
    ]
    for page in pages:
        assert page.status_code == 200
        assert not [value for value in CLEAR if value in page.text], page.url
        assert "+86138****8000" in page.text, page.url
    profile = pages[2].text
    assert all(value in profile for value in MASKED)
    assert await _reads(brand_a) == []


async def test_an_owner_sees_them_in_full_and_each_page_is_audited_once(
    admin_client, brand_a, new_member
):
    member = await _lin(new_member, brand_a)
    other = await new_member(brand_a, name="Lin Two", phone="13900139000")
    client = await admin_client(brand_a, "owner")
    profile = await client.get(f"{MEMBERS}/{member.pk}")
    assert all(value in profile.text for value in CLEAR)
    found = await client.get(MEMBERS, params={"q": "Lin"})
    assert "+8613800138000" in found.text and "+8613900139000" in found.text
    assert await _reads(brand_a) == [
        {"memberIds": [member.pk], "via": "admin"},
        {"memberIds": sorted([member.pk, other.pk]), "via": "admin"},
    ]


async def test_an_operator_saving_the_masked_form_keeps_the_values(
    admin_client, brand_a, new_member
):
    member = await _lin(new_member, brand_a)
    client = await admin_client(brand_a, "operator")
    page = await client.get(f"{MEMBERS}/{member.pk}/edit")
    fields = dict(re.findall(r'name="([^"]+)" type="[^"]+" value="([^"]*)"', page.text))
    version = re.search(r'name="form_version" value="([^"]+)"', page.text)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page.text)
    assert fields["phone"] == "+86138****8000" and version and key
    saved = await client.post(
        f"{MEMBERS}/{member.pk}/edit",
        {
            **fields,
            "name": "Lin Wei",
            "email": "new@example.com",  # typed anew: replaced
            "gender": "unknown",
            "status": "active",
            "form_version": version.group(1),
            "idempotency_key": key.group(1),
        },
    )
    assert saved.status_code == 303, saved.text
    stored = await BrandScope(brand_a).get(Member, member.pk)
    assert stored and (stored.name, stored.phone, stored.email) == (
        "Lin Wei",
        "+8613800138000",
        "new@example.com",
    )
