"""The slots pages: the list with last errors; per slot, creatives added,
edited and deleted through the same service as the API (refusals shown at
their field), a preview as a member, and the A/B results."""

from __future__ import annotations

from tessera.audit.models import AuditLogEntry
from tessera.features.service import set_feature
from tessera.scope import BrandScope
from tessera.slots import tracking
from tessera.slots.models import SlotCreative

PAGE = "/admin/brands/brand-a/slots"
CREATIVE = {
    "title": "Spring sale",
    "image_url": "https://cdn.example.com/s.jpg",
    "link": "/sale",
    "alt_text": "Spring sale banner",
    "audience_kind": "everyone",
    "priority": "5",
    "split_weight": "1",
    "idempotency_key": "k-1",
}


async def test_an_operator_manages_creatives_previews_and_reads_results(
    admin_client, brand_a, new_member
):
    scope = BrandScope(brand_a)
    slot, _ = await set_feature(scope, "slots.banner", enabled=True, slot="home_top", config={})
    client = await admin_client(brand_a, "owner")
    listing = await client.get(PAGE)
    assert listing.status_code == 200 and "home_top" in listing.text
    page = f"{PAGE}/{slot.feature.id}"

    refused = await client.post(
        f"{page}/creatives", {**CREATIVE, "image_url": "data:image/png;base64,AAAA", "alt_text": ""}
    )
    assert refused.status_code == 422
    assert 'id="image_url-error"' in refused.text and 'id="alt_text-error"' in refused.text
    assert not await scope.query(SlotCreative).exists()

    added = await client.post(f"{page}/creatives", CREATIVE)
    assert added.status_code == 303
    again = await client.post(f"{page}/creatives", CREATIVE)  # a double click
    assert again.status_code == 303
    [creative] = await scope.query(SlotCreative)
    assert (creative.title, creative.priority) == ("Spring sale", 5)

    edit = await client.get(f"{page}?edit={creative.id}")
    assert 'value="Spring sale"' in edit.text
    saved = await client.post(
        f"{page}/creatives/{creative.id}", {**CREATIVE, "title": "Summer sale", "fallback": "on"}
    )
    assert saved.status_code == 303
    await creative.refresh_from_db()
    assert (creative.title, creative.fallback) == ("Summer sale", True)

    member = await new_member(brand_a, name="Ann", external_id="ann")
    preview = await client.get(f"{page}?member={member.pk}")
    assert "Summer sale" in preview.text and "fallback" in preview.text
    await tracking.record_events(
        scope,
        [
            tracking.SlotEventInput(f"e{n}", "home_top", "impression", member.pk, creative.id)
            for n in range(4)
        ]
        + [tracking.SlotEventInput("c1", "home_top", "click", member.pk, creative.id)],
    )
    results = await client.get(page)
    assert "25.00 %" in results.text

    assert (await client.post(f"{page}/creatives/{creative.id}/delete")).status_code == 303
    assert not await scope.query(SlotCreative).exists()
    actions = await scope.query(AuditLogEntry).order_by("id").values_list("action", flat=True)
    assert actions == [
        "createSlotCreative",
        "createSlotCreative",
        "updateSlotCreative",
        "deleteSlotCreative",
    ]
