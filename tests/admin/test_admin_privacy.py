"""The member's personal-data page (export, legal hold, erasure) and the
retention settings page: owners only, through the services of their
GraphQL mutations."""

from __future__ import annotations

import re

from tessera.audit.models import AuditLogEntry
from tessera.members.models import Member
from tessera.members.service import create_member
from tessera.privacy.models import MemberExport, PrivacySettings
from tessera.scope import BrandScope

MEMBERS = "/admin/brands/brand-a/members"
KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')


async def _member(brand) -> Member:
    return await create_member(
        BrandScope(brand), {"name": "Li Lei", "phone": "+8613700000007", "email": "li@example.cn"}
    )


async def test_owner_exports_then_downloads_the_link_once(
    brand_a, admin_client, drain_outbox, http
):
    member = await _member(brand_a)
    client = await admin_client(brand_a, "owner")
    profile = await client.get(f"{MEMBERS}/{member.id}")
    assert f"{MEMBERS}/{member.id}/privacy" in profile.text
    page = await client.get(f"{MEMBERS}/{member.id}/privacy")
    assert page.status_code == 200
    key = KEY.search(page.text)
    assert key
    form = {"idempotency_key": key.group(1)}
    sent = await client.post(f"{MEMBERS}/{member.id}/privacy/export", form)
    assert sent.status_code == 303
    again = await client.post(f"{MEMBERS}/{member.id}/privacy/export", form)
    assert again.status_code == 303
    assert await MemberExport.filter(member_id=member.id).count() == 1  # a double click
    await drain_outbox()
    page = await client.get(f"{MEMBERS}/{member.id}/privacy")
    link = re.search(r'href="(/privacy/exports/[^"]+)" class="export-link"', page.text)
    assert link
    assert (await http.get(link.group(1))).json()["member"]["name"] == "Li Lei"
    assert (await http.get(link.group(1))).status_code == 410
    page = await client.get(f"{MEMBERS}/{member.id}/privacy")
    assert "export-link" not in page.text


async def test_hold_blocks_the_erasure_form_until_cleared(brand_a, admin_client):
    member = await _member(brand_a)
    client = await admin_client(brand_a, "owner")
    base = f"{MEMBERS}/{member.id}/privacy"
    missing = await client.post(f"{base}/hold", {"hold": "on", "reason": ""})
    assert missing.status_code == 422
    assert (
        await client.post(f"{base}/hold", {"hold": "on", "reason": "court order"})
    ).status_code == 303
    assert "court order" in (await client.get(base)).text

    unconfirmed = await client.post(f"{base}/erase", {"reason": "member_request"})
    assert unconfirmed.status_code == 422 and "tick the box" in unconfirmed.text
    held = await client.post(f"{base}/erase", {"reason": "member_request", "confirm": "yes"})
    assert held.status_code == 422 and "legal hold" in held.text
    assert (await Member.get(id=member.id)).name == "Li Lei"

    assert (await client.post(f"{base}/hold", {"hold": "off"})).status_code == 303
    done = await client.post(f"{base}/erase", {"reason": "member_request", "confirm": "yes"})
    assert done.status_code == 303
    erased = await Member.get(id=member.id)
    assert (erased.status, erased.name, erased.phone) == ("erased", "", None)
    outcomes = await AuditLogEntry.filter(brand_id=brand_a.id, action="eraseMember").values_list(
        "outcome", flat=True
    )
    assert sorted(outcomes) == ["ok", "rejected"]  # the unconfirmed form reached no service
    details = await AuditLogEntry.filter(brand_id=brand_a.id).values_list("details", flat=True)
    assert "Li Lei" not in str(details)


async def test_operators_cannot_open_personal_data_or_retention(brand_a, admin_client):
    member = await _member(brand_a)
    client = await admin_client(brand_a, "operator")
    assert (await client.get(f"{MEMBERS}/{member.id}/privacy")).status_code == 403
    erase = await client.post(
        f"{MEMBERS}/{member.id}/privacy/erase", {"reason": "other", "confirm": "yes"}
    )
    assert erase.status_code == 403
    assert (await client.get("/admin/brands/brand-a/privacy")).status_code == 403
    assert (await Member.get(id=member.id)).status == "active"
    profile = await client.get(f"{MEMBERS}/{member.id}")
    assert "/privacy" not in profile.text


async def test_retention_settings_page(brand_a, admin_client):
    client = await admin_client(brand_a, "owner")
    page = await client.get("/admin/brands/brand-a/privacy")
    assert page.status_code == 200
    bad = await client.post(
        "/admin/brands/brand-a/privacy", {"behaviourEventDays": "x", "exportLinkHours": "24"}
    )
    assert bad.status_code == 422
    out_of_range = await client.post(
        "/admin/brands/brand-a/privacy", {"inactiveMemberDays": "3", "exportLinkHours": "24"}
    )
    assert out_of_range.status_code == 422 and "between 30 and 36500" in out_of_range.text
    saved = await client.post(
        "/admin/brands/brand-a/privacy",
        {"behaviourEventDays": "365", "inactiveMemberDays": "", "exportLinkHours": "48"},
    )
    assert saved.status_code == 303
    settings = await PrivacySettings.get(brand_id=brand_a.id)
    assert (settings.behaviour_event_days, settings.inactive_member_days) == (365, None)
    assert settings.export_link_hours == 48
