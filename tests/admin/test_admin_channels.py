"""The channels pages: templates refused with the position of the problem,
previewed for a member; trigger rules; the message log with reasons; messages
on the member's timeline."""

from __future__ import annotations

import html

from tessera.channels import gate
from tessera.channels.models import MessageTemplate, Purpose, TriggerRule
from tessera.scope import BrandScope

BASE = "/admin/brands/brand-a/channels"


async def test_a_manager_writes_a_template_previews_it_and_adds_a_trigger(
    admin_client, brand_a, new_member
):
    client = await admin_client(brand_a, "owner")
    bad = await client.post(
        f"{BASE}/templates/new",
        {
            "name": "welcome",
            "channel": "email",
            "subject": "Hi",
            "body": "Hi {{ member.name }}",
            "html": "<p>\n<b>x</p>",
        },
    )
    assert bad.status_code == 422
    assert "line 2, column 5: &lt;/p&gt; where &lt;/b&gt; is due" in bad.text
    assert await BrandScope(brand_a).query(MessageTemplate).count() == 0
    made = await client.post(
        f"{BASE}/templates/new",
        {
            "name": "welcome",
            "channel": "email",
            "subject": "Hi",
            "body": "Hi {{ member.name }}, {{ points }} points",
            "html": "",
        },
    )
    assert made.status_code == 303
    template = await BrandScope(brand_a).query(MessageTemplate).get(name="welcome")
    member = await new_member(brand_a, name="Lin", email="lin@example.com")
    preview = await client.get(f"{BASE}/templates/{template.id}?member={member.pk}")
    assert preview.status_code == 200 and "Hi Lin, 0 points" in preview.text

    added = await client.post(
        f"{BASE}/triggers/new",
        {
            "event": "member.joined",
            "template_id": str(template.id),
            "purpose": "transactional",
            "delay_minutes": "10",
        },
    )
    assert added.status_code == 303
    rule = await BrandScope(brand_a).query(TriggerRule).get()
    assert (rule.event, rule.delay_minutes, rule.purpose) == (
        "member.joined",
        10,
        Purpose.TRANSACTIONAL,
    )
    listing = await client.get(f"{BASE}/triggers")
    assert "member.joined" in listing.text and "welcome" in listing.text
    refused = await client.post(
        f"{BASE}/triggers/new",
        {
            "event": "nope",
            "template_id": str(template.id),
            "purpose": "marketing",
            "delay_minutes": "0",
        },
    )
    assert refused.status_code == 422 and "no such trigger" in refused.text


async def test_the_log_and_the_timeline_show_why_a_message_was_held(
    admin_client, brand_a, new_member
):
    scope = BrandScope(brand_a)
    client = await admin_client(brand_a, "owner")
    template = await scope.create(MessageTemplate, name="news", channel="email", body="News")
    member = await new_member(brand_a, name="Lin", email="lin@example.com")
    await gate.send(scope, gate.SendRequest(member.pk, template.id, Purpose.MARKETING, "admin"))
    log = await client.get(f"{BASE}/messages?status=held")
    assert log.status_code == 200 and "no_consent" in log.text
    assert "no_consent" not in (await client.get(f"{BASE}/messages?status=sent")).text
    profile = await client.get(f"/admin/brands/brand-a/members/{member.pk}")
    assert 'data-kind="message"' in profile.text and "no_consent" in html.unescape(profile.text)
