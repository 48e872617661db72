"""Forms whose operation takes no idempotency key in the API (an API key, a
coupon template, a webhook) carry one of the form's own: the same form sent
twice, even at the same moment (a double click), creates once."""

from __future__ import annotations

import asyncio
import re

from tessera.auth.models import ApiKey
from tessera.coupons.models import CouponTemplate
from tessera.scope import BrandScope
from tessera.webhooks.models import WebhookSubscription

BASE = "/admin/brands/brand-a"
KEY = re.compile(r'name="idempotency_key" value="([0-9a-f]{32})"')


async def _sent_twice_at_once(client, form_page: str, action: str, form: dict) -> list[int]:
    """The statuses of the form sent twice at once, then once more."""
    page = await client.get(f"{BASE}{form_page}")
    key = KEY.search(page.text)
    assert key, "the form carries no key of its own"
    sent = {**form, "idempotency_key": key.group(1)}
    answers = await asyncio.gather(
        client.post(f"{BASE}{action}", sent), client.post(f"{BASE}{action}", sent)
    )
    again = await client.post(f"{BASE}{action}", sent)
    return sorted([a.status_code for a in answers]) + [again.status_code]


async def test_a_coupon_template_form_sent_twice_creates_one(admin_client, brand_a):
    client = await admin_client(brand_a, "operator")
    form = {
        "kind": "amount_off",
        "title": "20 off",
        "amountOff": "20",
        "validDays": "30",
        "active": "on",
    }
    statuses = await _sent_twice_at_once(client, "/coupon-templates/new", "/coupon-templates", form)
    assert statuses == [303, 303, 303]
    assert await BrandScope(brand_a).query(CouponTemplate).count() == 1


async def test_an_api_key_form_sent_twice_creates_one(admin_client, brand_a):
    client = await admin_client(brand_a, "owner")
    statuses = await _sent_twice_at_once(
        client, "/api-keys", "/api-keys/new", {"name": "till", "scopes": ["read"]}
    )
    assert sorted(statuses) == [200, 303, 303]  # the first answer shows the secret
    assert await BrandScope(brand_a).query(ApiKey).count() == 1
    listed = await client.get(f"{BASE}/api-keys")
    assert "The secret was shown only in the answer to the first request" in listed.text


async def test_a_webhook_form_sent_twice_creates_one(admin_client, brand_a, webhook_receiver):
    client = await admin_client(brand_a, "owner")
    form = {"url": webhook_receiver.url, "event_types": ["member.joined"]}
    statuses = await _sent_twice_at_once(client, "/webhooks", "/webhooks/new", form)
    assert sorted(statuses) == [200, 303, 303]
    assert await BrandScope(brand_a).query(WebhookSubscription).count() == 1


async def test_a_refused_form_can_be_corrected_and_sent_with_its_key(admin_client, brand_a):
    client = await admin_client(brand_a, "owner")
    page = await client.get(f"{BASE}/api-keys")
    key = KEY.search(page.text).group(1)
    refused = await client.post(
        f"{BASE}/api-keys/new", {"name": "till", "scopes": ["nope"], "idempotency_key": key}
    )
    assert refused.status_code == 422 and "unknown scope" in refused.text
    made = await client.post(
        f"{BASE}/api-keys/new", {"name": "till", "scopes": ["read"], "idempotency_key": key}
    )
    assert made.status_code == 200 and "tsk_" in made.text
    assert await BrandScope(brand_a).query(ApiKey).count() == 1
