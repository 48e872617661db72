"""App push through a generic HTTP push gateway: one JSON POST per message
(the gateway fans out to APNs, FCM or a vendor's channel), and receipts the
gateway POSTs back signed with HMAC-SHA256 of the body.

The request::

    POST <url>
    <auth_header>: <auth_value>
    {"message_id": "…", "tokens": ["<device token>", …], "title": "…",
     "body": "…", "data": {…}}

``to`` is the device token (several separated by commas). A 2xx answer is
taken; its JSON ``id`` (if any) is the provider's id for receipts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, HttpUrl, SecretStr

from tessera import (
    ChannelSender,
    OutboundMessage,
    Receipt,
    ReceiptRefused,
    ReceiptStatus,
    SendResult,
)
from tessera.plugins.channels import _http

# A receipt's "status" may also be a gateway's word for the same thing.
STATUS_WORDS = {status.value: status for status in ReceiptStatus} | {
    "unregistered": ReceiptStatus.UNSUBSCRIBED,
    "opened": ReceiptStatus.OPENED,
    "clicked": ReceiptStatus.CLICKED,
}


class HttpPushConfig(BaseModel):
    url: HttpUrl = Field(description="The gateway's send endpoint")
    auth_header: str = Field(
        "Authorization", min_length=1, description="Header carrying the credential"
    )
    auth_value: SecretStr | None = Field(
        None, description="Its value, e.g. 'Bearer <key>' (none: no header)"
    )
    receipt_secret: SecretStr | None = Field(
        None, description="Shared secret the gateway signs receipts with (HMAC-SHA256)"
    )
    signature_header: str = Field(
        "X-Signature", min_length=1, description="Header carrying a receipt's signature"
    )
    timeout_seconds: float = Field(10.0, gt=0, le=60, description="Per request")


class HttpPush(ChannelSender):
    key = "http_push"
    title = "App push (HTTP gateway)"
    description = "Sends app push notifications through a push gateway that takes JSON over HTTP."
    channel = "push"
    Config = HttpPushConfig

    async def send(self, message: OutboundMessage) -> SendResult:
        config: HttpPushConfig = self.config  # type: ignore[assignment]
        tokens = [t.strip() for t in message.to.split(",") if t.strip()]
        if not tokens:
            return SendResult.rejected("no device token")
        headers = {}
        if config.auth_value is not None:
            headers[config.auth_header] = config.auth_value.get_secret_value()
        answer = await _http.call(
            "POST",
            str(config.url),
            timeout=config.timeout_seconds,
            headers=headers,
            json={
                "message_id": message.message_id,
                "tokens": tokens,
                "title": message.subject or "",
                "body": message.body,
                "data": dict(message.data),
            },
        )
        if isinstance(answer, SendResult):
            return answer
        status = answer.status_code
        if answer.is_success:
            payload = _http.json_or_none(answer)
            found = payload.get("id") if isinstance(payload, dict) else None
            return SendResult.delivered(str(found) if found is not None else None)
        said = f"HTTP {status}: {_http.excerpt(answer)}"
        if status in (404, 410):
            # The push services' word for an app uninstalled or a token revoked.
            return SendResult.rejected(f"device token unregistered ({said})")
        if status == 429 or status >= 500:
            return SendResult.failed(said, retryable=True)
        if status in (401, 403):
            return SendResult.failed(
                f"the gateway refused the credential ({said})", retryable=False
            )
        return SendResult.failed(said, retryable=False)

    def parse_receipts(
        self,
        body: bytes,
        headers: Mapping[str, str],
        query: Mapping[str, str] | None = None,
    ) -> list[Receipt]:
        config: HttpPushConfig = self.config  # type: ignore[assignment]
        if config.receipt_secret is None:
            raise ReceiptRefused("http_push: set receipt_secret to accept receipts")
        offered = (_http.header(headers, config.signature_header.lower()) or "").strip()
        offered = offered.removeprefix("sha256=").lower()
        expected = hmac.new(
            config.receipt_secret.get_secret_value().encode(), body, hashlib.sha256
        ).hexdigest()
        if not offered or not hmac.compare_digest(offered, expected):
            raise ReceiptRefused("http_push: the signature does not verify")
        try:
            payload = json.loads(body)
        except ValueError as error:
            raise ReceiptRefused(f"http_push: not JSON: {error}") from error
        events = payload.get("events") if isinstance(payload, dict) else payload
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            raise ReceiptRefused('http_push: expected a list of events or {"events": [...]}')
        return [_receipt(event) for event in events]


def _receipt(event: Mapping[str, Any]) -> Receipt:
    word = str(event.get("status", "")).lower()
    if word not in STATUS_WORDS:
        raise ReceiptRefused(f"http_push: unknown receipt status {word!r}")
    provider_id = event.get("provider_id", event.get("id"))
    occurred_at = None
    if isinstance(event.get("occurred_at"), str):
        try:
            occurred_at = datetime.fromisoformat(event["occurred_at"].replace("Z", "+00:00"))
        except ValueError as error:
            raise ReceiptRefused(f"http_push: bad occurred_at: {error}") from error
    return Receipt(
        status=STATUS_WORDS[word],
        provider_id=str(provider_id) if provider_id is not None else None,
        message_id=str(event["message_id"]) if event.get("message_id") else None,
        occurred_at=occurred_at,
        detail=str(event["detail"]) if event.get("detail") else None,
    )
