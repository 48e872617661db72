"""Escaping, the Content-Security-Policy, and the wall between brands on every
admin route (enumerated from the route table, so a new page is covered)."""

from __future__ import annotations

import re
import uuid

from starlette.routing import Route

from tessera.assets.models import LedgerEntry
from tessera.auth.api_keys import create_api_key
from tessera.auth.models import AdminRole, ApiKey
from tessera.campaigns import service as campaigns
from tessera.campaigns.models import Campaign
from tessera.channels import service as channels
from tessera.channels.models import Channel, MessageTemplate, Purpose, TriggerRule
from tessera.coupons.models import CouponTemplate
from tessera.coupons.service import create_template
from tessera.features.service import set_feature
from tessera.members.duplicates import claim
from tessera.members.identities import IdentityKind
from tessera.members.merge import merge_members
from tessera.members.models import DuplicateCandidate, MemberMerge
from tessera.scope import BrandScope
from tessera.segments import service as segments
from tessera.segments.models import Segment
from tessera.slots.creatives import create_creative
from tessera.slots.models import SlotCreative
from tessera.tags import service as tags
from tessera.tags.models import Tag, TagAssignment
from tessera.tiers.definitions import create_tier
from tessera.tiers.models import TierDefinition
from tessera.webhooks import service as webhooks
from tessera.webhooks.models import WebhookDelivery, WebhookSubscription

INLINE = [
    re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I),  # a script without src
    re.compile(r"<style", re.I),
    re.compile(r"\sstyle\s*=", re.I),
    re.compile(r"\son[a-z]+\s*=", re.I),  # onclick= and friends
    re.compile(r"javascript:", re.I),
]


def brand_routes(app) -> list[Route]:
    admin = next(r for r in app.routes if getattr(r, "path", "") == "/admin").app
    return [r for r in admin.routes if isinstance(r, Route) and "brand" in r.param_convertors]


async def loyalty_ids(scope: BrandScope) -> dict[str, int]:
    """A tier and a coupon template of the brand, for the loyalty routes."""
    tier = await create_tier(scope, {"code": "gold", "name": "Gold", "rank": 10})
    template = await create_template(
        scope, {"kind": "free_shipping", "title": "Ship", "valid_days": 7}
    )
    return {"tier_id": tier.id, "template_id": template.id}


def path_of(route: Route, brand: str, ids: dict[str, int]) -> str:
    params = {name: ids[name] for name in route.param_convertors if name != "brand"}
    return "/admin" + route.url_path_for(route.name, brand=brand, **params)


async def _programme(brand) -> dict[str, int]:
    """A tag, a tag group and a segment of the brand, by their route parameter."""
    scope = BrandScope(brand)
    group = await tags.create_group(scope, "life", "Lifecycle")
    tag = await tags.create_tag(scope, "rule_tag", "Rule tag", group_id=group.id)
    rule = {"type": "tags", "has": "any", "codes": ["rule_tag"]}
    segment = await segments.create_segment(scope, "Seg", segments.SegmentKind.DYNAMIC, rule=rule)
    slot, _ = await set_feature(scope, "slots.banner", enabled=True, slot="home_top", config={})
    creative = await create_creative(
        scope,
        "home_top",
        {"title": "T", "image_url": "https://x.example/t.jpg", "link": "/t", "alt_text": "T"},
    )
    return {
        "tag_id": tag.id,
        "group_id": group.id,
        "segment_id": segment.id,
        "slot_id": slot.feature.id,
        "creative_id": creative.id,
    }


async def _channels(brand) -> dict[str, int]:
    scope = BrandScope(brand)
    template = await channels.create_template(
        scope, name="welcome", channel=Channel.SMS, body="Hi {{ member.name }}"
    )
    rule = await channels.create_trigger_rule(
        scope, event="member.joined", template_id=template.id, purpose=Purpose.TRANSACTIONAL
    )
    segment = await scope.create(Segment, name="campaign audience", kind="static")
    campaign = await campaigns.create_campaign(
        scope,
        campaigns.CampaignInput(name="winter", segment_id=segment.id, template_id=template.id),
    )
    return {"message_template_id": template.id, "rule_id": rule.id, "campaign_id": campaign.id}


async def test_a_member_named_script_shows_as_text(admin_client, brand_a, new_member):
    evil = '<script>alert("x")</script>'
    member = await new_member(brand_a, name=evil, phone="13800138000")
    await tags.create_tag(BrandScope(brand_a), "odd", "<b onmouseover=x>odd</b>")
    await tags.tag_members(BrandScope(brand_a), ["odd"], member_ids=[member.pk])
    client = await admin_client(brand_a, "owner")
    for path in (
        f"/admin/brands/brand-a/members/{member.pk}",
        "/admin/brands/brand-a/members?q=13800138000",
    ):
        page = await client.get(path)
        assert (
            evil not in page.text and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
        )
    profile = await client.get(f"/admin/brands/brand-a/members/{member.pk}")
    assert "<b onmouseover" not in profile.text and "&lt;b onmouseover=x&gt;" in profile.text


async def test_every_page_has_a_strict_csp_and_no_inline_script_or_style(
    app, admin_client, brand_a, new_member, http
):
    member = await new_member(brand_a, name="Lin", phone="13800138000")
    client = await admin_client(brand_a, "owner")
    loyalty = await loyalty_ids(BrandScope(brand_a))
    pages = [await http.get("/admin/login")]
    await set_feature(BrandScope(brand_a), "reports.sales", enabled=True)
    ids = {
        "member_id": member.pk,
        "key": "points.purchase",
        "report": "reports.sales",
        **loyalty,
        **await _programme(brand_a),
        **await _channels(brand_a),
    }
    for route in brand_routes(app):
        if "GET" in (route.methods or ()):
            pages.append(await client.get(path_of(route, "brand-a", ids)))
    assert len(pages) >= 6
    for page in pages:
        assert page.status_code == 200, page.url
        policy = page.headers["content-security-policy"]
        assert "script-src 'self';" in policy and "style-src 'self';" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert "frame-ancestors 'none'" in policy
        assert page.headers["x-content-type-options"] == "nosniff"
        for pattern in INLINE:
            assert not pattern.search(page.text), (page.url, pattern.pattern)


async def test_htmx_is_served_by_tessera_with_its_licence(http):
    script = await http.get("/admin/static/htmx.min.js")
    assert script.status_code == 200 and "htmx" in script.text[:200]
    assert "BSD" in (await http.get("/admin/static/htmx.LICENSE")).text


async def test_no_admin_route_reaches_another_brands_data(
    app, admin_client, admin_user, brand_a, brand_b, new_member
):
    """A brand-A owner, on every brand route: brand B's code, and brand A's
    code with brand B's ids, both answer 404 and change nothing in brand B."""
    scope_b = BrandScope(brand_b)
    member_b = await new_member(brand_b, name="Secret Bee", phone="+12025550100")
    await tags.create_tag(scope_b, "vip", "VIP")
    key_b = (await create_api_key(brand_b, "b key", ["admin"])).key
    await tags.create_tag(BrandScope(brand_a), "vip", "VIP")
    hook_b = (
        await webhooks.create_subscription(scope_b, "http://127.0.0.1:9/b", ["*"])
    ).subscription
    delivery_b = await scope_b.create(
        WebhookDelivery,
        delivery_id=uuid.uuid4(),
        subscription_id=hook_b.id,
        event_type="member.joined",
        payload={},
        status="failed",
    )
    owner_b = await admin_user(brand_b, "owner")
    twins = [await new_member(brand_b, name="Twin", external_id=f"t{n}") for n in (1, 2, 3)]
    merge_b = await merge_members(scope_b, twins[0].pk, twins[1].pk, idempotency_key="b")
    await claim(scope_b, twins[2].pk, twins[0].pk, IdentityKind.PHONE)
    candidate_b = await scope_b.query(DuplicateCandidate).get()
    ids_b = {
        "merge_id": merge_b.merge.id,
        "candidate_id": candidate_b.id,
        "member_id": member_b.pk,
        "key_id": key_b.id,
        "admin_user_id": owner_b.id,
        **await loyalty_ids(scope_b),
        **await _programme(brand_b),
        "subscription_id": hook_b.id,
        "delivery_id": delivery_b.id,
        **await _channels(brand_b),
    }
    # Not brand data: the same for every brand, probed only with brand B's code.
    shared = {"key": "points.purchase", "report": "reports.sales"}
    owner_a = await admin_client(brand_a, "owner")
    form = {
        "points": "5",
        "reason": "r",
        "idempotency_key": "x",
        "tag": "vip",
        "name": "k",
        "scopes": "admin",
        "role": "viewer",
        "confirm": "on",
    }
    routes = brand_routes(app)
    unknown = {n for r in routes for n in r.param_convertors} - {"brand", *ids_b, *shared}
    assert not unknown, f"add an id of brand B for {unknown} to this test"
    probed = 0
    for route in routes:
        for brand, ids in (("brand-b", ids_b), ("brand-a", ids_b)):
            if brand == "brand-a" and not set(route.param_convertors) & set(ids_b):
                continue  # nothing of brand B's in the path
            path = path_of(route, brand, {**ids, **shared})
            for method in route.methods or ():
                if method == "HEAD":
                    continue
                response = await (
                    owner_a.get(path) if method == "GET" else owner_a.post(path, form)
                )
                assert response.status_code == 404, (method, path, response.status_code)
                assert "Secret Bee" not in response.text
                probed += 1
    assert probed >= 12
    assert await scope_b.query(LedgerEntry).count() == 0
    assert await scope_b.query(TagAssignment).count() == 0
    assert (await ApiKey.get(id=key_b.id)).revoked_at is None
    assert await scope_b.query(ApiKey).count() == 1
    assert [r.role for r in await scope_b.query(AdminRole)] == ["owner"]
    assert await scope_b.query(TierDefinition).count() == 1
    assert await scope_b.query(CouponTemplate).count() == 1
    assert sorted(s.name for s in await scope_b.query(Segment)) == ["Seg", "campaign audience"]
    assert [(c.name, c.status.value) for c in await scope_b.query(Campaign)] == [
        ("winter", "draft")
    ]
    assert await scope_b.query(Tag).filter(rule__isnull=False).count() == 0
    assert (await scope_b.get(MemberMerge, merge_b.merge.id)).undone_at is None
    assert (await scope_b.get(DuplicateCandidate, candidate_b.id)).status == "open"
    assert [c.title for c in await scope_b.query(SlotCreative)] == ["T"]
    hook_b = await scope_b.query(WebhookSubscription).get(id=hook_b.id)
    assert hook_b.active and (await scope_b.get(WebhookDelivery, delivery_b.id)).attempts == 0
    template_b = await scope_b.get(MessageTemplate, ids_b["message_template_id"])
    assert template_b is not None and template_b.body == "Hi {{ member.name }}"
    rule_b = await scope_b.get(TriggerRule, ids_b["rule_id"])
    assert rule_b is not None and rule_b.active


async def test_brand_a_pages_show_nothing_of_brand_b(admin_client, brand_a, brand_b, new_member):
    await new_member(brand_b, name="Secret Bee", phone="+12025550100")
    await create_api_key(brand_b, "b key", ["admin"])
    owner_a = await admin_client(brand_a, "owner")
    for path in ("/", "/members?q=Bee", "/members?q=2025550100", "/api-keys", "/audit"):
        page = await owner_a.get("/admin/brands/brand-a" + path)
        assert page.status_code == 200
        assert "Secret Bee" not in page.text and "b key" not in page.text, path
    dashboard = await owner_a.get("/admin/brands/brand-a/")
    assert re.search(r"<dt>Members</dt><dd>0</dd>", dashboard.text)
