"""Receipt callbacks and unsubscribe links, through HTTP against the app."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from tessera.channels import gate, service
from tessera.channels.models import Channel, DoNotContactReason, Message, MessageStatus, Purpose
from tessera.scope import BrandScope


async def _sent_sms(
    brand: Any,
    enable_feature: Any,
    new_member: Any,
    gateway: Any,
    drain: Any,
    purpose: Purpose = Purpose.TRANSACTIONAL,
) -> tuple[BrandScope, Any, Message]:
    scope = BrandScope(brand)
    await enable_feature(
        brand,
        "sms_http",
        config={"url": gateway.url, "receipt_secret": "rk", "status_field": "status"},
    )
    member = await new_member(brand, name="Ann", phone="+8613800000001")
    template = await service.create_template(
        scope, name="hi", channel=Channel.SMS, body="Hi {{ member.name }}"
    )
    if purpose is Purpose.MARKETING:
        await service.set_consent(scope, member.pk, Channel.SMS, Purpose.MARKETING, True, "api")
    message = await gate.send(scope, gate.SendRequest(member.pk, template.id, purpose, "test"))
    await drain()
    return scope, member, await scope.get(Message, message.id)


def _signed(items: list[dict[str, Any]], secret: bytes = b"rk") -> tuple[bytes, dict[str, str]]:
    body = json.dumps(items).encode()
    return body, {"X-Signature": hmac.new(secret, body, hashlib.sha256).hexdigest()}


async def test_receipts_update_the_message_and_the_member(
    http: Any,
    brand_a: Any,
    enable_feature: Any,
    new_member: Any,
    sms_gateway: Any,
    drain_outbox: Any,
) -> None:
    scope, member, message = await _sent_sms(
        brand_a, enable_feature, new_member, sms_gateway, drain_outbox
    )
    assert message.status is MessageStatus.SENT and message.provider_id
    url = service.receipt_url(brand_a.code, "sms_http").split("8000", 1)[1]
    body, headers = _signed([{"id": message.provider_id, "status": "delivered"}])
    answer = await http.post(url, content=body, headers=headers)
    assert answer.status_code == 200 and answer.json() == {"received": 1, "applied": 1}
    assert (await scope.get(Message, message.id)).status is MessageStatus.DELIVERED
    body, headers = _signed([{"id": message.provider_id, "status": "unsubscribed"}])
    assert (await http.post(url, content=body, headers=headers)).status_code == 200
    [consent] = await service.consents(scope, member.pk)
    assert (consent.channel, consent.purpose, consent.granted, consent.source) == (
        Channel.SMS,
        Purpose.MARKETING,
        False,
        "receipt",
    )


async def test_a_bounce_stops_the_channel(
    brand_a: Any, enable_feature: Any, new_member: Any, sms_gateway: Any, drain_outbox: Any
) -> None:
    from tessera.channels import receipts
    from tessera.plugin_host.components import Receipt, ReceiptStatus

    scope, member, message = await _sent_sms(
        brand_a, enable_feature, new_member, sms_gateway, drain_outbox
    )
    await receipts.apply(
        scope,
        "sms_http",
        [Receipt(ReceiptStatus.BOUNCED, message_id=str(message.id), detail="no such number")],
    )
    stored = await scope.get(Message, message.id)
    assert stored.status is MessageStatus.FAILED and "bounced" in stored.reason
    [dnc] = await service.do_not_contact(scope, member.pk)
    assert dnc.reason is DoNotContactReason.BOUNCED


async def test_receipts_with_a_bad_signature_or_token_change_nothing(
    http: Any,
    brand_a: Any,
    brand_b: Any,
    enable_feature: Any,
    new_member: Any,
    sms_gateway: Any,
    drain_outbox: Any,
) -> None:
    scope, _member, message = await _sent_sms(
        brand_a, enable_feature, new_member, sms_gateway, drain_outbox
    )
    url = service.receipt_url(brand_a.code, "sms_http").split("8000", 1)[1]
    body, headers = _signed([{"id": message.provider_id, "status": "delivered"}], secret=b"wrong")
    assert (await http.post(url, content=body, headers=headers)).status_code == 403
    body, headers = _signed([{"id": message.provider_id, "status": "delivered"}])
    # Another brand's token does not open this brand's address.
    other = service.receipt_url(brand_b.code, "sms_http").split("8000", 1)[1]
    forged = url.rsplit("/", 1)[0] + "/" + other.rsplit("/", 1)[1]
    assert (await http.post(forged, content=body, headers=headers)).status_code == 404
    assert (await scope.get(Message, message.id)).status is MessageStatus.SENT


async def test_the_unsubscribe_link_confirms_then_unsubscribes(
    http: Any, brand_a: Any, new_member: Any
) -> None:
    scope = BrandScope(brand_a)
    member = await new_member(brand_a, name="Ann", email="ann@example.com")
    await service.set_consent(scope, member.pk, Channel.EMAIL, Purpose.MARKETING, True, "api")
    path = service.unsubscribe_url(brand_a.id, member.pk, Channel.EMAIL).split("8000", 1)[1]
    page = await http.get(path)
    assert page.status_code == 200 and '<form method="post">' in page.text
    [consent] = await service.consents(scope, member.pk)
    assert consent.granted  # a GET (a mail scanner) changes nothing
    # RFC 8058 one-click: the mail client POSTs this body.
    done = await http.post(
        path,
        content=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert done.status_code == 200
    [consent] = await service.consents(scope, member.pk)
    assert (consent.granted, consent.source) == (False, "unsubscribe_link")
    assert (await http.get(path[:-3] + "xyz")).status_code == 404
