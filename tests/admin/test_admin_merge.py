"""Merging in the admin UI: "Merge into…" with a confirmation of what moves
(owners only, as mergeMembers needs the admin scope), undo from the
survivor's profile, and the Duplicates page with merge and dismiss."""

from __future__ import annotations

import re
from datetime import date

from tessera.assets import service as assets
from tessera.audit.models import AuditLogEntry
from tessera.members.duplicates import scan
from tessera.members.models import DuplicateCandidate, Member, MemberMerge
from tessera.scope import BrandScope

MEMBERS = "/admin/brands/brand-a/members"
KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')


async def test_an_owner_merges_from_the_profile_and_undoes_it(admin_client, brand_a, new_member):
    scope = BrandScope(brand_a)
    stays = await new_member(brand_a, name="Lin", phone="13800138000")
    goes = await new_member(brand_a, name="Lin W", phone="13900139000")
    await assets.earn_points(scope, goes.pk, 40, idempotency_key="k", reason="", source_type="t")
    client = await admin_client(brand_a, "owner")
    profile = await client.get(f"{MEMBERS}/{goes.pk}")
    assert 'id="merge-into"' in profile.text

    confirm = await client.get(f"{MEMBERS}/{goes.pk}/merge", params={"into": stays.card_number})
    assert confirm.status_code == 200
    moving = dict(re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td></tr>", confirm.text))
    assert moving["Points"] == "40" and moving["Identities"] == "2"
    key = KEY.search(confirm.text)
    assert key
    form = {"survivor_id": str(stays.pk), "idempotency_key": key.group(1)}
    done = await client.post(f"{MEMBERS}/{goes.pk}/merge", form)
    assert done.status_code == 303 and done.headers["location"].endswith(f"/members/{stays.pk}")
    again = await client.post(f"{MEMBERS}/{goes.pk}/merge", form)
    assert again.status_code == 303  # a double submit replays the first merge
    assert await MemberMerge.filter(brand_id=brand_a.id).count() == 1
    assert (await assets.balances(scope, [stays.pk]))[stays.pk].points == 40
    audit = [e.action for e in await scope.query(AuditLogEntry).order_by("id")]
    assert audit.count("mergeMembers") == 2 and "member.merge" in audit

    survivor = await client.get(f"{MEMBERS}/{stays.pk}")
    assert "Undo merge" in survivor.text
    tomb = await client.get(f"{MEMBERS}/{goes.pk}")
    assert 'id="merged-into"' in tomb.text and 'id="merge-into"' not in tomb.text
    merge = await MemberMerge.get(brand_id=brand_a.id)
    undone = await client.post(f"/admin/brands/brand-a/merges/{merge.id}/undo", {})
    assert undone.status_code == 303 and undone.headers["location"].endswith(f"/members/{goes.pk}")
    assert (await Member.get(id=goes.pk)).status == "active"
    assert (await assets.balances(scope, [goes.pk]))[goes.pk].points == 40


async def test_an_unknown_survivor_is_refused_beside_the_field(admin_client, brand_a, new_member):
    goes = await new_member(brand_a, name="Lin", phone="13800138000")
    client = await admin_client(brand_a, "owner")
    page = await client.get(f"{MEMBERS}/{goes.pk}/merge", params={"into": "nobody"})
    assert page.status_code == 422 and "No member of this brand" in page.text
    itself = await client.post(
        f"{MEMBERS}/{goes.pk}/merge", {"survivor_id": str(goes.pk), "idempotency_key": "x"}
    )
    assert itself.status_code == 422 and "cannot be merged into itself" in itself.text
    assert await MemberMerge.filter(brand_id=brand_a.id).count() == 0


async def test_an_operator_reviews_duplicates_but_cannot_merge(admin_client, brand_a, new_member):
    one = await new_member(brand_a, name="Wang", birthday=date(1990, 1, 2), phone="13800138000")
    two = await new_member(brand_a, name="Wang", birthday=date(1990, 1, 2), phone="13900139000")
    await scan(BrandScope(brand_a))
    operator = await admin_client(brand_a, "operator")
    page = await operator.get("/admin/brands/brand-a/duplicates")
    assert page.status_code == 200 and "same name and birthday" in page.text
    assert f"/members/{two.pk}/merge" not in page.text  # merging needs the owner's scope
    assert (await operator.get(f"{MEMBERS}/{two.pk}/merge")).status_code == 403
    refused = await operator.post(
        f"{MEMBERS}/{two.pk}/merge", {"survivor_id": str(one.pk), "idempotency_key": "x"}
    )
    assert refused.status_code == 403
    owner = await admin_client(brand_a, "owner")
    assert (
        f"/members/{two.pk}/merge?into={one.pk}"
        in (await owner.get("/admin/brands/brand-a/duplicates")).text
    )
    candidate = await DuplicateCandidate.get(brand_id=brand_a.id)
    dismissed = await operator.post(f"/admin/brands/brand-a/duplicates/{candidate.id}/dismiss", {})
    assert dismissed.status_code == 303
    assert (await DuplicateCandidate.get(id=candidate.id)).status == "dismissed"
    viewer = await admin_client(brand_a, "viewer")
    assert (await viewer.get("/admin/brands/brand-a/duplicates")).status_code == 403
    scanned = await operator.post("/admin/brands/brand-a/duplicates/scan", {})
    assert scanned.status_code == 303
