"""App push through a generic HTTP gateway, against a local gateway that
checks the credential and answers as push services do."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from tessera import OutboundMessage, ReceiptRefused, ReceiptStatus, SendStatus
from tessera.plugins.channels.push_http import HttpPush
from tessera.testing import Answer, ProviderRequest, ProviderServer

API_KEY = "Bearer gw-key-123"
RECEIPT_SECRET = "receipt-secret-456"


def gateway(statuses: dict[str, int] | None = None) -> object:
    statuses = statuses or {}

    def answer(request: ProviderRequest) -> Answer:
        if request.headers.get("authorization") != API_KEY:
            return 401, {"error": "bad credential"}
        body = request.json()
        status = statuses.get(body["tokens"][0], 200)
        if status != 200:
            return status, {"error": "Unregistered" if status in (404, 410) else "nope"}
        return 200, {"id": f"push-{body['message_id']}"}

    return answer


def sender(server: ProviderServer, **extra: object) -> HttpPush:
    settings: dict[str, object] = {
        "url": f"{server.url}/v1/push",
        "auth_value": API_KEY,
        "receipt_secret": RECEIPT_SECRET,
        "timeout_seconds": 2,
    }
    settings.update(extra)
    return HttpPush(HttpPush.Config.model_validate(settings))


def message(to: str = "fcm-token-1", **kw: object) -> OutboundMessage:
    fields: dict[str, object] = {
        "to": to,
        "subject": "Points expiring",
        "body": "1,200 points expire on 31 Dec",
        "data": {"link": "app://points", "badge": 1},
        "message_id": "msg-9",
    }
    fields.update(kw)
    return OutboundMessage(**fields)  # type: ignore[arg-type]


async def test_a_push_is_posted_with_the_credential(
    tessera_runtime: object, provider: ProviderServer
) -> None:
    provider.answer = gateway()  # type: ignore[assignment]
    result = await sender(provider).send(message("fcm-token-1, apns-token-2"))

    assert (result.status, result.provider_id) == (SendStatus.DELIVERED, "push-msg-9")
    [request] = provider.requests
    assert request.path == "/v1/push"
    assert request.json() == {
        "message_id": "msg-9",
        "tokens": ["fcm-token-1", "apns-token-2"],
        "title": "Points expiring",
        "body": "1,200 points expire on 31 Dec",
        "data": {"link": "app://points", "badge": 1},
    }


async def test_a_custom_auth_header_is_used(
    tessera_runtime: object, provider: ProviderServer
) -> None:
    provider.answer = lambda request: (
        (200, {}) if request.headers.get("x-api-key") == "k-1" else (401, {})
    )
    result = await sender(provider, auth_header="X-Api-Key", auth_value="k-1").send(message())
    assert (result.status, result.provider_id) == (SendStatus.DELIVERED, None)


@pytest.mark.parametrize(
    ("status", "result_status", "retryable"),
    [
        (404, SendStatus.REJECTED, False),
        (410, SendStatus.REJECTED, False),
        (429, SendStatus.FAILED, True),
        (500, SendStatus.FAILED, True),
        (503, SendStatus.FAILED, True),
        (400, SendStatus.FAILED, False),
    ],
)
async def test_gateway_answers_map_to_results(
    tessera_runtime: object,
    provider: ProviderServer,
    status: int,
    result_status: SendStatus,
    retryable: bool,
) -> None:
    provider.answer = gateway({"stale-token": status})  # type: ignore[assignment]
    result = await sender(provider).send(message("stale-token"))
    assert (result.status, result.retryable) == (result_status, retryable)
    assert f"HTTP {status}" in (result.error or "")


async def test_a_wrong_credential_is_a_configuration_error(
    tessera_runtime: object, provider: ProviderServer
) -> None:
    provider.answer = gateway()  # type: ignore[assignment]
    result = await sender(provider, auth_value="Bearer wrong").send(message())
    assert (result.status, result.retryable) == (SendStatus.FAILED, False)
    assert "refused the credential" in (result.error or "")


async def test_a_timeout_is_retried(tessera_runtime: object, provider: ProviderServer) -> None:
    provider.answer = lambda request: provider.hang()
    result = await sender(provider, timeout_seconds=0.2).send(message())
    assert (result.status, result.retryable) == (SendStatus.FAILED, True)


async def test_no_device_token_is_a_rejection_without_a_request(
    tessera_runtime: object, provider: ProviderServer
) -> None:
    result = await sender(provider).send(message(" , "))
    assert result.status is SendStatus.REJECTED
    assert provider.requests == []


EVENTS = {
    "events": [
        {
            "message_id": "msg-9",
            "provider_id": "push-msg-9",
            "status": "delivered",
            "occurred_at": "2026-12-01T10:00:00Z",
        },
        {"id": "push-msg-10", "status": "opened"},
        {"message_id": "msg-11", "status": "unregistered", "detail": "app uninstalled"},
    ]
}


def signed(body: bytes, secret: str = RECEIPT_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_signed_receipts_are_read() -> None:
    body = json.dumps(EVENTS).encode()
    receiver = HttpPush(
        HttpPush.Config.model_validate(
            {"url": "https://gw.example/push", "receipt_secret": RECEIPT_SECRET}
        )
    )
    delivered, opened, gone = receiver.parse_receipts(body, {"X-Signature": signed(body)})

    assert (delivered.status, delivered.message_id, delivered.provider_id) == (
        ReceiptStatus.DELIVERED,
        "msg-9",
        "push-msg-9",
    )
    assert delivered.occurred_at is not None and delivered.occurred_at.utcoffset() is not None
    assert (opened.status, opened.provider_id) == (ReceiptStatus.OPENED, "push-msg-10")
    assert (gone.status, gone.detail) == (ReceiptStatus.UNSUBSCRIBED, "app uninstalled")
    # A bare list and a bare hex signature are taken too.
    bare = json.dumps(EVENTS["events"][:1]).encode()
    assert len(receiver.parse_receipts(bare, {"x-signature": signed(bare)[7:]})) == 1


@pytest.mark.parametrize(
    ("secret", "header", "body"),
    [
        (RECEIPT_SECRET, lambda b: signed(b, "another-secret"), json.dumps(EVENTS).encode()),
        (RECEIPT_SECRET, lambda b: "", json.dumps(EVENTS).encode()),
        (None, lambda b: signed(b), json.dumps(EVENTS).encode()),
        (RECEIPT_SECRET, lambda b: signed(b), b'{"events": [{"status": "teleported"}]}'),
        (RECEIPT_SECRET, lambda b: signed(b), b"{not json"),
    ],
    ids=["wrong-secret", "unsigned", "no-secret-configured", "unknown-status", "not-json"],
)
def test_receipts_that_do_not_verify_are_refused(
    secret: str | None, header: object, body: bytes
) -> None:
    receiver = HttpPush(
        HttpPush.Config.model_validate({"url": "https://gw.example/push", "receipt_secret": secret})
    )
    with pytest.raises(ReceiptRefused):
        receiver.parse_receipts(body, {"X-Signature": header(body)})  # type: ignore[operator]
