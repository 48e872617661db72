"""Segments in the admin UI: the rule builder and JSON editor create and edit
through ``create_segment``/``update_segment`` (manage scope), the preview is
``previewSegment``'s, the export streams the stored members, and a static
list is uploaded like ``importSegmentMembers``."""

from __future__ import annotations

import csv
import io
import re

from tessera.admin_ui.pages import segments as segment_pages
from tessera.audit.models import AuditLogEntry
from tessera.members.models import Member
from tessera.scope import BrandScope
from tessera.segments import service
from tessera.segments.models import Segment
from tessera.segments.service import SegmentKind
from tessera.tags import service as tags
from tessera.testing import record_database

BASE = "/admin/brands/brand-a/segments"
VIP_ROW = {
    "op": "all",
    "g.0.op": "all",
    "g.0.c.0.type": "tags",
    "g.0.c.0.f.has": "any",
    "g.0.c.0.f.codes": "vip",
}
PREVIEW = (
    """query($r: JSON!) { previewSegment(rule: $r) { count sample { id } errors { code } } }"""
)


async def _members(brand, new_member):
    scope = BrandScope(brand)
    await tags.create_tag(scope, "vip", "VIP")
    await tags.create_tag(scope, "kol", "KOL")
    lin = await new_member(brand, name="Lin", phone="13800138000")
    zhang = await new_member(brand, name="Zhang", phone="13900139000")
    wang = await new_member(brand, name="Wang", phone="13700137000")
    await tags.tag_members(scope, ["vip"], member_ids=[lin.pk])
    await tags.tag_members(scope, ["kol"], member_ids=[zhang.pk])
    return lin, zhang, wang


async def _actions(brand):
    return (
        await BrandScope(brand).query(AuditLogEntry).order_by("id").values_list("action", "outcome")
    )


async def test_create_from_the_builder_refuses_bad_input_beside_the_field(
    admin_client, brand_a, new_member
):
    lin, _, _ = await _members(brand_a, new_member)
    client = await admin_client(brand_a, "operator")
    assert (await client.get(f"{BASE}/new")).status_code == 200

    unknown_tag = {**VIP_ROW, "name": "VIPs", "g.0.c.0.f.codes": "vpi"}
    refused = await client.post(f"{BASE}/new", {**unknown_tag, "name": ""})
    assert refused.status_code == 422 and 'id="name-error"' in refused.text
    refused = await client.post(f"{BASE}/new", unknown_tag)
    assert refused.status_code == 422
    # The problem beside the input it is about, what was typed kept.
    codes = refused.text.split('id="g-0-c-0-f-codes"')[1].split("</div>")[0]
    assert 'value="vpi"' in codes and "no tag with code vpi" in codes
    negative_age = {**VIP_ROW, "name": "VIPs", "g.0.c.1.type": "age", "g.0.c.1.f.min": "-1"}
    refused = await client.post(f"{BASE}/new", negative_age)
    assert refused.status_code == 422
    age = refused.text.split('id="g-0-c-1-f-min"')[1].split("</div>")[0]
    assert 'value="-1"' in age and "must be at least 0" in age
    assert await service.segments_query(BrandScope(brand_a)).count() == 0

    created = await client.post(f"{BASE}/new", {**VIP_ROW, "name": "VIPs"})
    assert created.status_code == 303
    segment = await service.segments_query(BrandScope(brand_a)).get(name="VIPs")
    assert segment.rule == {"all": [{"type": "tags", "has": "any", "codes": ["vip"]}]}
    assert segment.size == 1  # refreshed by its job (in-process queue)
    page = await client.get(created.headers["location"])
    assert 'id="size-history"' in page.text and 'id="segment-size">1<' in page.text
    assert await _actions(brand_a) == [("createSegment", "rejected")] * 3 + [
        ("createSegment", "ok")
    ]
    assert lin.pk in [m.id for m in await service.members_query(BrandScope(brand_a), segment.id)]


async def test_the_json_editor_submits_the_same_rule(admin_client, brand_a, new_member):
    await _members(brand_a, new_member)
    client = await admin_client(brand_a, "operator")
    broken = await client.post(
        f"{BASE}/new", {"name": "J", "source": "json", "rule_json": '{"all": ['}
    )
    assert broken.status_code == 422 and 'id="rule_json-error"' in broken.text
    invalid = await client.post(
        f"{BASE}/new",
        {"name": "J", "source": "json", "rule_json": '{"type": "points", "min": -5}'},
    )
    assert invalid.status_code == 422
    assert "min: must be at least 0" in invalid.text
    assert await service.segments_query(BrandScope(brand_a)).count() == 0
    rule = '{"any": [{"type": "tags", "has": "any", "codes": ["vip", "kol"]}]}'
    created = await client.post(f"{BASE}/new", {"name": "J", "source": "json", "rule_json": rule})
    assert created.status_code == 303
    segment = await service.segments_query(BrandScope(brand_a)).get(name="J")
    assert segment.size == 2


async def test_the_preview_counts_like_preview_segment(
    admin_client, brand_a, new_member, api_key, gql
):
    await _members(brand_a, new_member)
    viewer = await admin_client(brand_a, "viewer")  # previewSegment needs read only
    token = await api_key(brand_a, "read")
    for codes, expected in (("vip", 1), ("vip, kol", 2), ("kol", 1)):
        form = {**VIP_ROW, "g.0.c.0.f.codes": codes}
        live = await viewer.post(f"{BASE}/preview", form, headers={"HX-Request": "true"})
        assert live.status_code == 200 and "<html" not in live.text  # a fragment
        count = int(re.search(r'id="preview-count">(\d+)<', live.text).group(1))
        rule = {"all": [{"type": "tags", "has": "any", "codes": codes.split(", ")}]}
        api = (await gql(PREVIEW, {"r": rule}, token=token))["previewSegment"]
        assert count == api["count"] == expected
        # The JSON editor follows the builder.
        assert 'id="rule-json-box" hx-swap-oob="true"' in live.text
    # A problem in the live preview says which condition and input it is about.
    bad = {**VIP_ROW, "g.0.c.0.f.codes": "vpi"}
    live = await viewer.post(f"{BASE}/preview", bad, headers={"HX-Request": "true"})
    where = "Condition group 1 › Tags › Tag codes (comma-separated)"
    assert f"{where}: no tag with code vpi" in live.text
    # Without JavaScript: the whole page, with the count.
    page = await viewer.post(f"{BASE}/preview", {**VIP_ROW, "name": "x"})
    assert "<html" in page.text and 'id="preview-count">1<' in page.text
    # The builder's buttons work without JavaScript too.
    added = await viewer.post(
        f"{BASE}/preview", {**VIP_ROW, "action": "add:0", "g.0.new": "points"}
    )
    assert 'name="g.0.c.1.type" value="points"' in added.text
    assert "field-error" not in added.text  # a condition just added is not judged yet
    removed = await viewer.post(f"{BASE}/preview", {**VIP_ROW, "action": "remove:0:0"})
    assert 'name="g.0.c.0.type"' not in removed.text


async def test_edit_refuses_a_stale_form_and_roles_without_manage(
    admin_client, brand_a, new_member
):
    await _members(brand_a, new_member)
    scope = BrandScope(brand_a)
    rule = {"all": [{"type": "tags", "has": "any", "codes": ["vip"]}]}
    segment = await service.create_segment(scope, "VIPs", SegmentKind.DYNAMIC, rule=rule)
    client = await admin_client(brand_a, "operator")
    page = await client.get(f"{BASE}/{segment.id}")
    version = re.search(r'name="form_version" value="([^"]+)"', page.text).group(1)
    await service.update_segment(scope, segment.id, {"description": "changed meanwhile"})
    form = {**VIP_ROW, "g.0.c.0.f.codes": "kol", "name": "Mine", "form_version": version}
    stale = await client.post(f"{BASE}/{segment.id}", form)
    assert stale.status_code == 409 and "Someone changed this" in stale.text
    assert (await scope.get(Segment, segment.id)).name == "VIPs"

    for role in ("viewer", "analyst"):
        other = await admin_client(brand_a, role)
        for path in (f"{BASE}/{segment.id}", f"{BASE}/new", f"{BASE}/{segment.id}/delete"):
            refused = await other.post(path, {**form, "form_version": ""})
            assert refused.status_code == 403, (role, path)
    stored = await scope.get(Segment, segment.id)
    assert (stored.name, stored.rule) == ("VIPs", rule)

    page = await client.get(f"{BASE}/{segment.id}")
    version = re.search(r'name="form_version" value="([^"]+)"', page.text).group(1)
    saved = await client.post(f"{BASE}/{segment.id}", {**form, "form_version": version})
    assert saved.status_code == 303
    stored = await scope.get(Segment, segment.id)
    assert stored.name == "Mine" and stored.rule["all"][0]["codes"] == ["kol"]
    assert stored.size == 1


async def test_refresh_and_delete_with_confirmation(admin_client, brand_a, new_member):
    lin, _, _ = await _members(brand_a, new_member)
    scope = BrandScope(brand_a)
    rule = {"type": "tags", "has": "any", "codes": ["vip"]}
    segment = await service.create_segment(scope, "VIPs", SegmentKind.DYNAMIC, rule=rule)
    client = await admin_client(brand_a, "operator")
    assert (await client.post(f"{BASE}/{segment.id}/refresh")).status_code == 303
    assert (await scope.get(Segment, segment.id)).size == 1
    confirm = await client.get(f"{BASE}/{segment.id}/delete")
    assert confirm.status_code == 200 and "VIPs" in confirm.text
    assert await scope.query(Segment).count() == 1  # asking deletes nothing
    assert (await client.post(f"{BASE}/{segment.id}/delete")).status_code == 303
    assert await scope.query(Segment).count() == 0


async def test_the_export_streams_the_stored_members_a_page_at_a_time(
    admin_client, brand_a, new_member, monkeypatch
):
    scope = BrandScope(brand_a)
    await tags.create_tag(scope, "vip", "VIP")
    members = [await new_member(brand_a, name=f"M{i}", phone=f"1380013800{i}") for i in range(5)]
    outsider = await new_member(brand_a, name="Outsider", phone="13900139000")
    await tags.tag_members(scope, ["vip"], member_ids=[m.pk for m in members])
    rule = {"type": "tags", "has": "any", "codes": ["vip"]}
    segment = await service.create_segment(scope, "VIPs", SegmentKind.DYNAMIC, rule=rule)
    await service.refresh_segment(scope, segment.id)
    monkeypatch.setattr(segment_pages, "EXPORT_PAGE", 2)
    client = await admin_client(brand_a, "analyst")
    async with record_database() as recorded:
        response = await client.get(f"{BASE}/{segment.id}/members.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == list(segment_pages.EXPORT_COLUMNS)
    assert [int(r[0]) for r in rows[1:]] == sorted(m.pk for m in members)
    assert outsider.pk not in [int(r[0]) for r in rows[1:]]
    assert {r[1] for r in rows[1:]} == {m.card_number for m in members}
    # Five members two at a time: three pages and the empty read that ends it.
    pages = [s for s in recorded.statements if "segment_membership" in s and "LIMIT" in s]
    assert len(pages) == 4
    assert ("exportSegmentMembers", "ok") in await _actions(brand_a)


async def test_a_static_list_is_uploaded_as_csv(admin_client, brand_a, new_member):
    lin = await new_member(brand_a, name="Lin", phone="13800138000")
    await new_member(brand_a, name="Zhang", phone="13900139000")
    scope = BrandScope(brand_a)
    client = await admin_client(brand_a, "operator")
    created = await client.post(f"{BASE}/new", {"name": "Fair visitors", "kind": "static"})
    assert created.status_code == 303
    segment = await scope.query(Segment).get(name="Fair visitors")
    assert segment.kind == "static" and segment.rule is None
    bad = await client.post(
        f"{BASE}/{segment.id}/import",
        files={"file": ("list.csv", b"colour\nred\n", "text/csv")},
        data={"csrf_token": client.csrf},
    )
    assert bad.status_code == 422 and 'id="file-error"' in bad.text
    upload = b"phone\n138 0013 8000\n13700000000\n"
    done = await client.post(
        f"{BASE}/{segment.id}/import",
        files={"file": ("list.csv", upload, "text/csv")},
        data={"csrf_token": client.csrf, "mode": "replace"},
    )
    assert done.status_code == 303
    page = await client.get(done.headers["location"])
    assert "1 of 2 rows matched a member" in page.text and "no member has it" in page.text
    assert [m.id for m in await service.members_query(scope, segment.id)] == [lin.pk]
    # A list saved by Excel on a Chinese Windows (GB18030), added.
    zhang = await scope.query(Member).get(name="Zhang")
    excel = "kind,value\nphone,13900139000\nexternal_id,会员一号\n".encode("gb18030")
    added = await client.post(
        f"{BASE}/{segment.id}/import",
        files={"file": ("名单.csv", excel, "text/csv")},
        data={"csrf_token": client.csrf, "mode": "add"},
    )
    assert added.status_code == 303
    assert "3: 会员一号 — no member has it" in (await client.get(added.headers["location"])).text
    in_segment = {m.id for m in await service.members_query(scope, segment.id)}
    assert in_segment == {lin.pk, zhang.id}
    viewer = await admin_client(brand_a, "viewer")
    refused = await viewer.post(
        f"{BASE}/{segment.id}/import",
        files={"file": ("list.csv", b"phone\n13900139000\n", "text/csv")},
        data={"csrf_token": viewer.csrf},
    )
    assert refused.status_code == 403
    assert {m.id for m in await service.members_query(scope, segment.id)} == in_segment


async def test_a_preview_round_trip_keeps_the_forms_version(admin_client, brand_a, new_member):
    await _members(brand_a, new_member)
    scope = BrandScope(brand_a)
    rule = {"all": [{"type": "tags", "has": "any", "codes": ["vip"]}]}
    segment = await service.create_segment(scope, "VIPs", SegmentKind.DYNAMIC, rule=rule)
    client = await admin_client(brand_a, "operator")
    page = await client.get(f"{BASE}/{segment.id}")
    version = re.search(r'name="form_version" value="([^"]+)"', page.text).group(1)
    await service.update_segment(scope, segment.id, {"description": "changed meanwhile"})
    form = {**VIP_ROW, "name": "Mine", "segment": str(segment.id), "form_version": version}
    previewed = await client.post(f"{BASE}/preview", form)  # the Preview button, no JS
    assert f'name="form_version" value="{version}"' in previewed.text
    stale = await client.post(f"{BASE}/{segment.id}", form)
    assert stale.status_code == 409
    assert (await scope.get(Segment, segment.id)).name == "VIPs"


async def test_a_rule_deeper_than_the_builder_is_edited_as_json(admin_client, brand_a, new_member):
    await _members(brand_a, new_member)
    scope = BrandScope(brand_a)
    vip = {"type": "tags", "has": "any", "codes": ["vip"]}
    deep = {"any": [{"all": [{"any": [vip, {"type": "points", "min": 1}]}]}]}
    segment = await service.create_segment(scope, "Deep", SegmentKind.DYNAMIC, rule=deep)
    client = await admin_client(brand_a, "operator")
    page = await client.get(f"{BASE}/{segment.id}")
    assert "edit it as JSON" in page.text and 'name="g.0.op"' not in page.text
    # The page's own Save sends the JSON editor's rule.
    assert '<button type="submit" name="source" value="json">Save</button>' in page.text
    version = re.search(r'name="form_version" value="([^"]+)"', page.text).group(1)
    text = re.search(r'<textarea id="rule-json"[^>]*>([^<]*)</textarea>', page.text).group(1)
    saved = await client.post(
        f"{BASE}/{segment.id}",
        {
            "name": "Deep",
            "source": "json",
            "rule_json": text.replace("&#34;", '"'),
            "form_version": version,
        },
    )
    assert saved.status_code == 303
    assert (await scope.get(Segment, segment.id)).rule == deep
