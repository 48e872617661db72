"""Tags, tag groups and rule tags in the admin UI: the tag services and the
manage scope of ``createTag``/``updateTag``/``deleteTag``, the tag-group
mutations and ``setTagRule``."""

from __future__ import annotations

import re

from tessera.audit.models import AuditLogEntry
from tessera.scope import BrandScope
from tessera.tags import service as tags
from tessera.tags.models import Tag, TagAssignment, TagGroup
from tessera.testing import record_database

BASE = "/admin/brands/brand-a"
RULE_ROW = {
    "op": "all",
    "g.0.op": "all",
    "g.0.c.0.type": "points",
    "g.0.c.0.f.min": "100",
}


def _version(html: str, form_id: str) -> str:
    form = html.split(f'id="{form_id}"')[1]
    found = re.search(r'name="form_version" value="([^"]+)"', form)
    assert found
    return found.group(1)


async def test_create_a_tag_with_field_errors_first(admin_client, brand_a):
    scope = BrandScope(brand_a)
    group = await tags.create_group(scope, "life", "Lifecycle")
    client = await admin_client(brand_a, "operator")
    refused = await client.post(
        f"{BASE}/tags", {"code": "no spaces", "name": "VIP", "defaultExpiryDays": "0"}
    )
    assert refused.status_code == 422
    assert 'id="code-error"' in refused.text and 'value="no spaces"' in refused.text
    expiry = await client.post(
        f"{BASE}/tags", {"code": "vip", "name": "VIP", "defaultExpiryDays": "0"}
    )
    assert expiry.status_code == 422 and 'id="defaultExpiryDays-error"' in expiry.text
    assert await scope.query(Tag).count() == 0

    created = await client.post(
        f"{BASE}/tags",
        {"code": "vip", "name": "VIP", "groupId": str(group.id), "defaultExpiryDays": "30"},
    )
    assert created.status_code == 303
    tag = await scope.query(Tag).get(code="vip")
    assert (tag.name, tag.group_id, tag.default_expiry_days) == ("VIP", group.id, 30)
    duplicate = await client.post(f"{BASE}/tags", {"code": "vip", "name": "Again"})
    assert duplicate.status_code == 422 and "exists" in duplicate.text
    listing = await client.get(f"{BASE}/tags")
    assert "<code>vip</code>" in listing.text and "Lifecycle" in listing.text
    actions = await scope.query(AuditLogEntry).order_by("id").values_list("action", "outcome")
    assert actions == [
        ("createTag", "rejected"),
        ("createTag", "rejected"),
        ("createTag", "ok"),
        ("createTag", "rejected"),
    ]


async def test_edit_refuses_a_stale_form_then_saves(admin_client, brand_a):
    scope = BrandScope(brand_a)
    tag = await tags.create_tag(scope, "vip", "VIP")
    client = await admin_client(brand_a, "operator")
    page = await client.get(f"{BASE}/tags/{tag.id}")
    version = _version(page.text, "tag-form")
    await tags.update_tag(scope, tag.id, {"description": "changed meanwhile"})
    stale = await client.post(
        f"{BASE}/tags/{tag.id}", {"name": "Very important", "form_version": version}
    )
    assert stale.status_code == 409 and "Someone changed this" in stale.text
    assert (await scope.get(Tag, tag.id)).name == "VIP"

    version = _version((await client.get(f"{BASE}/tags/{tag.id}")).text, "tag-form")
    empty = await client.post(f"{BASE}/tags/{tag.id}", {"name": " ", "form_version": version})
    assert empty.status_code == 422 and 'id="name-error"' in empty.text
    assert (await scope.get(Tag, tag.id)).name == "VIP"
    saved = await client.post(
        f"{BASE}/tags/{tag.id}",
        {"name": "Very important", "description": "d", "form_version": version},
    )
    assert saved.status_code == 303
    assert (await scope.get(Tag, tag.id)).name == "Very important"


async def test_the_list_counts_members_per_tag_in_one_query(admin_client, brand_a, new_member):
    scope = BrandScope(brand_a)
    await tags.create_tag(scope, "vip", "VIP")
    await tags.create_tag(scope, "kol", "KOL")
    await tags.create_tag(scope, "none", "Nobody")
    lin = await new_member(brand_a, name="Lin", phone="13800138000")
    zhang = await new_member(brand_a, name="Zhang", phone="13900139000")
    await tags.tag_members(scope, ["vip"], member_ids=[lin.pk, zhang.pk])
    await tags.tag_members(scope, ["kol"], member_ids=[lin.pk])
    await tags.tag_members(scope, ["kol"], member_ids=[lin.pk], source=tags.TagSource.IMPORT)
    ids = dict(await scope.query(Tag).values_list("code", "id"))
    async with record_database() as recorded:
        counts = await tags.member_counts(scope, list(ids.values()))
    assert len(recorded.statements) == 1
    assert counts == {ids["vip"]: 2, ids["kol"]: 1, ids["none"]: 0}  # by member, not source
    client = await admin_client(brand_a, "viewer")
    page = await client.get(f"{BASE}/tags")
    row = page.text.split("<code>vip</code>")[1].split("</tr>")[0]
    assert '<td class="num">2</td>' in row


async def test_delete_asks_first(admin_client, brand_a, new_member):
    scope = BrandScope(brand_a)
    tag = await tags.create_tag(scope, "vip", "VIP")
    member = await new_member(brand_a, name="Lin", phone="13800138000")
    await tags.tag_members(scope, ["vip"], member_ids=[member.pk])
    client = await admin_client(brand_a, "operator")
    confirm = await client.get(f"{BASE}/tags/{tag.id}/delete")
    assert confirm.status_code == 200 and "VIP (vip)" in confirm.text
    assert await scope.query(Tag).count() == 1
    assert (await client.post(f"{BASE}/tags/{tag.id}/delete")).status_code == 303
    assert await scope.query(Tag).count() == 0
    assert await scope.query(TagAssignment).count() == 0


async def test_tag_groups_are_created_edited_and_deleted(admin_client, brand_a):
    scope = BrandScope(brand_a)
    client = await admin_client(brand_a, "operator")
    refused = await client.post(f"{BASE}/tag-groups", {"code": "life", "name": ""})
    assert refused.status_code == 422 and 'id="name-error"' in refused.text
    assert await scope.query(TagGroup).count() == 0
    assert (
        await client.post(f"{BASE}/tag-groups", {"code": "life", "name": "Lifecycle"})
    ).status_code == 303
    group = await scope.query(TagGroup).get(code="life")
    tag = await tags.create_tag(scope, "new", "New", group_id=group.id)
    page = await client.get(f"{BASE}/tag-groups/{group.id}")
    version = _version(page.text, "tag-group-form")
    await tags.update_group(scope, group.id, description="meanwhile")
    stale = await client.post(
        f"{BASE}/tag-groups/{group.id}", {"name": "Stages", "form_version": version}
    )
    assert stale.status_code == 409
    version = _version((await client.get(f"{BASE}/tag-groups/{group.id}")).text, "tag-group-form")
    saved = await client.post(
        f"{BASE}/tag-groups/{group.id}", {"name": "Stages", "form_version": version}
    )
    assert saved.status_code == 303 and (await scope.get(TagGroup, group.id)).name == "Stages"
    assert (await client.get(f"{BASE}/tag-groups/{group.id}/delete")).status_code == 200
    assert (await client.post(f"{BASE}/tag-groups/{group.id}/delete")).status_code == 303
    assert await scope.query(TagGroup).count() == 0
    assert (await scope.get(Tag, tag.id)).group_id is None  # its tags stay


async def test_roles_without_manage_are_refused_and_nothing_changes(admin_client, brand_a):
    scope = BrandScope(brand_a)
    tag = await tags.create_tag(scope, "vip", "VIP")
    group = await tags.create_group(scope, "life", "Lifecycle")
    for role in ("viewer", "analyst"):
        client = await admin_client(brand_a, role)
        assert (await client.get(f"{BASE}/tags/{tag.id}")).status_code == 200
        for path in (
            "/tags",
            f"/tags/{tag.id}",
            f"/tags/{tag.id}/rule",
            f"/tags/{tag.id}/delete",
            "/tag-groups",
            f"/tag-groups/{group.id}",
            f"/tag-groups/{group.id}/delete",
        ):
            form = {"code": "x", "name": "Changed", **RULE_ROW}
            refused = await client.post(BASE + path, form)
            assert refused.status_code == 403, (role, path)
        assert (await client.get(f"{BASE}/tags/{tag.id}/delete")).status_code == 403
    stored = await scope.get(Tag, tag.id)
    assert (stored.name, stored.rule) == ("VIP", None)
    assert await scope.query(Tag).count() == 1
    assert (await scope.get(TagGroup, group.id)).name == "Lifecycle"
    outcomes = set(await scope.query(AuditLogEntry).values_list("outcome", flat=True))
    assert outcomes == {"forbidden"}


async def test_a_rule_tag_is_set_previewed_and_cleared(admin_client, brand_a, new_member):
    from tessera.assets.service import adjust_points
    from tessera.idempotency import from_caller

    scope = BrandScope(brand_a)
    rich = await new_member(brand_a, name="Rich", phone="13800138000")
    await new_member(brand_a, name="Poor", phone="13900139000")
    await adjust_points(scope, rich.pk, 500, idempotency_key=from_caller("k1"), reason="r")
    tag = await tags.create_tag(scope, "rich", "Rich")
    client = await admin_client(brand_a, "operator")
    preview = await client.post(
        f"{BASE}/tags/{tag.id}/rule/preview", RULE_ROW, headers={"HX-Request": "true"}
    )
    assert 'id="preview-count">1<' in preview.text
    page = await client.get(f"{BASE}/tags/{tag.id}")
    version = _version(page.text, "rule-form")
    bad = await client.post(
        f"{BASE}/tags/{tag.id}/rule",
        {**RULE_ROW, "g.0.c.0.f.min": "lots", "form_version": version},
    )
    assert bad.status_code == 422
    assert "must be a whole number" in bad.text.split('id="g-0-c-0-f-min"')[1].split("</div>")[0]
    assert (await scope.get(Tag, tag.id)).rule is None
    saved = await client.post(f"{BASE}/tags/{tag.id}/rule", {**RULE_ROW, "form_version": version})
    assert saved.status_code == 303
    stored = await scope.get(Tag, tag.id)
    assert stored.rule == {"all": [{"type": "points", "min": 100}]}
    assigned = (
        await scope.query(TagAssignment).filter(tag_id=tag.id).values_list("member_id", "source")
    )
    assert assigned == [(rich.pk, "rule")]  # evaluated by its job (in-process queue)

    page = await client.get(f"{BASE}/tags/{tag.id}")
    assert 'name="g.0.c.0.f.min"' in page.text and 'value="100"' in page.text  # shown again
    version = _version(page.text, "rule-form")
    cleared = await client.post(
        f"{BASE}/tags/{tag.id}/rule", {"clear": "on", "form_version": version}
    )
    assert cleared.status_code == 303
    assert (await scope.get(Tag, tag.id)).rule is None
    assert await scope.query(TagAssignment).filter(tag_id=tag.id).count() == 0
    actions = await scope.query(AuditLogEntry).order_by("id").values_list("action", "outcome")
    assert actions[-3:] == [
        ("setTagRule", "rejected"),
        ("setTagRule", "ok"),
        ("setTagRule", "ok"),
    ]
