"""The webhooks page: owners add a subscription (the secret shown once),
disable, enable, rotate and delete it, and replay from its delivery log."""

from __future__ import annotations

import re

from tessera.audit.models import AuditLogEntry
from tessera.scope import BrandScope
from tessera.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookSubscription

PAGE = "/admin/brands/brand-a/webhooks"


async def test_an_owner_adds_a_webhook_sees_its_deliveries_and_replays_one(
    admin_client, brand_a, new_member, webhook_receiver, drain_outbox
):
    client = await admin_client(brand_a, "owner")
    created = await client.post(
        f"{PAGE}/new",
        {"url": webhook_receiver.url, "description": "CRM", "event_types": ["member.joined"]},
    )
    assert created.status_code == 200 and created.headers["cache-control"] == "no-store"
    secret = re.search(r'<code id="new-secret">([^<]+)</code>', created.text).group(1)
    assert secret.startswith("whsec_")
    hook = await WebhookSubscription.get(brand_id=brand_a.id)
    assert hook.event_types == ["member.joined"] and hook.description == "CRM"
    listing = await client.get(PAGE)
    assert webhook_receiver.url in listing.text and secret not in listing.text

    await new_member(brand_a, name="Ann", identities=[("app_user_id", "ann")])
    await drain_outbox()
    log = await client.get(f"{PAGE}?subscription={hook.id}&status=delivered")
    delivery = await WebhookDelivery.get(brand_id=brand_a.id)
    assert str(delivery.delivery_id) in log.text and "<td>200</td>" in log.text.replace(" ", "")

    replayed = await client.post(f"{PAGE}/deliveries/{delivery.id}/replay")
    assert replayed.status_code == 303
    await drain_outbox()
    assert len(webhook_receiver.received) == 2
    assert webhook_receiver.received[1].headers["tessera-webhook-id"] == str(delivery.delivery_id)

    assert (await client.post(f"{PAGE}/{hook.id}/active", {"active": "0"})).status_code == 303
    assert not (await WebhookSubscription.get(id=hook.id)).active
    assert (await client.post(f"{PAGE}/{hook.id}/active", {"active": "1"})).status_code == 303
    assert (await WebhookSubscription.get(id=hook.id)).active
    rotated = await client.post(f"{PAGE}/{hook.id}/rotate")
    assert re.search(r'<code id="new-secret">(whsec_[^<]+)</code>', rotated.text).group(1) != secret
    assert (await client.post(f"{PAGE}/{hook.id}/delete")).status_code == 303
    assert not await WebhookSubscription.exists()
    actions = (
        await BrandScope(brand_a)
        .query(AuditLogEntry)
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == [
        "createWebhookSubscription",
        "replayWebhookDelivery",
        "updateWebhookSubscription",
        "updateWebhookSubscription",
        "rotateWebhookSecret",
        "deleteWebhookSubscription",
    ]
    assert secret not in str(await BrandScope(brand_a).query(AuditLogEntry).values_list("details"))
    assert delivery.status is DeliveryStatus.DELIVERED


async def test_a_refused_webhook_shows_the_field_errors_and_operators_cannot_see_the_page(
    admin_client, brand_a
):
    owner = await admin_client(brand_a, "owner")
    refused = await owner.post(f"{PAGE}/new", {"url": "ftp://x", "description": ""})
    assert refused.status_code == 422
    assert 'id="url-error"' in refused.text
    refused = await owner.post(f"{PAGE}/new", {"url": "http://127.0.0.1:9/x"})
    assert refused.status_code == 422 and 'id="event_types-error"' in refused.text
    assert not await WebhookSubscription.exists()
    operator = await admin_client(brand_a, "operator")
    assert (await operator.get(PAGE)).status_code == 403
