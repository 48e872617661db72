"""SMS through a generic HTTP gateway: the operator describes the request
(URL, method, an auth header, a JSON body with ``{to}``, ``{text}`` and
``{message_id}`` placeholders) and which answers mean delivered or rejected.
Delivery receipts are JSON posted back, signed with HMAC-SHA256 over the
body when a receipt secret is set."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from tessera import (
    ChannelSender,
    OutboundMessage,
    Receipt,
    ReceiptRefused,
    ReceiptStatus,
    SendResult,
    http_client,
)

DEFAULT_BODY: dict[str, Any] = {"to": "{to}", "text": "{text}", "reference": "{message_id}"}


class HttpSmsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(description="the gateway's send endpoint (https)")
    method: Literal["POST", "PUT"] = "POST"
    auth_header: str = Field("Authorization", description="header carrying the credential")
    auth_value: SecretStr | None = Field(None, description="e.g. 'Bearer ...'; write-only")
    body_template: dict[str, Any] = Field(
        default_factory=lambda: dict(DEFAULT_BODY),
        description="JSON body; the strings {to}, {text} and {message_id} are replaced",
    )
    status_field: str | None = Field(
        None, description="dotted path of the answer's status (none: HTTP 2xx means delivered)"
    )
    delivered_values: list[str] = Field(
        default_factory=lambda: ["ok"], description="status values meaning the gateway took it"
    )
    rejected_values: list[str] = Field(
        default_factory=list,
        description="status values meaning the number cannot be reached (opted out, invalid)",
    )
    id_field: str | None = Field("id", description="dotted path of the gateway's message id")
    timeout_s: float = Field(10.0, gt=0, le=120)
    receipt_secret: SecretStr | None = Field(
        None, description="HMAC-SHA256 key the gateway signs receipts with; write-only"
    )
    receipt_signature_header: str = "X-Signature"
    receipt_id_field: str = Field("id", description="dotted path of the gateway's id in a receipt")
    receipt_status_field: str = "status"
    receipt_statuses: dict[str, ReceiptStatus] = Field(
        default_factory=lambda: {
            "delivered": ReceiptStatus.DELIVERED,
            "failed": ReceiptStatus.FAILED,
            "unsubscribed": ReceiptStatus.UNSUBSCRIBED,
        },
        description="gateway receipt status -> Tessera receipt status",
    )


def _fill(value: Any, values: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        for name, text in values.items():
            value = value.replace("{" + name + "}", text)
        return value
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    return value


def _dig(data: Any, path: str | None) -> Any:
    if not path:
        return None
    for part in path.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


class HttpSmsSender(ChannelSender):
    key = "sms_http"
    title = "SMS (HTTP gateway)"
    description = "Sends SMS through any HTTP/JSON gateway, described by its URL and body."
    channel = "sms"
    Config = HttpSmsConfig

    config: HttpSmsConfig

    def request_body(self, message: OutboundMessage) -> Any:
        return _fill(
            self.config.body_template,
            {"to": message.to, "text": message.body, "message_id": message.message_id},
        )

    async def send(self, message: OutboundMessage) -> SendResult:
        cfg = self.config
        headers = {"content-type": "application/json"}
        if cfg.auth_value is not None:
            headers[cfg.auth_header] = cfg.auth_value.get_secret_value()
        try:
            response = await http_client().request(
                cfg.method,
                cfg.url,
                content=json.dumps(self.request_body(message), ensure_ascii=False).encode(),
                headers=headers,
                timeout=cfg.timeout_s,
            )
        except httpx.HTTPError as exc:
            return SendResult.failed(f"{type(exc).__name__}: {exc}", retryable=True)
        if response.status_code == 429 or response.status_code >= 500:
            return SendResult.failed(f"HTTP {response.status_code}", retryable=True)
        if not response.is_success:
            return SendResult.failed(
                f"HTTP {response.status_code}: {response.text[:200]}", retryable=False
            )
        try:
            answer = response.json()
        except ValueError:
            answer = None
        provider_id = _dig(answer, cfg.id_field)
        provider_id = None if provider_id is None else str(provider_id)
        if cfg.status_field is None:
            return SendResult.delivered(provider_id)
        status = _dig(answer, cfg.status_field)
        status = None if status is None else str(status)
        if status in cfg.delivered_values:
            return SendResult.delivered(provider_id)
        if status in cfg.rejected_values:
            return SendResult.rejected(f"gateway status {status}", provider_id)
        return SendResult.failed(
            f"gateway status {status}", retryable=False, provider_id=provider_id
        )

    def parse_receipts(
        self, body: bytes, headers: Mapping[str, str], query: Mapping[str, str] | None = None
    ) -> list[Receipt]:
        cfg = self.config
        if cfg.receipt_secret is None:
            raise ReceiptRefused("set a receipt secret to take receipts")
        given = {k.lower(): v for k, v in headers.items()}.get(
            cfg.receipt_signature_header.lower(), ""
        )
        expected = hmac.new(
            cfg.receipt_secret.get_secret_value().encode(), body, hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise ReceiptRefused("signature does not verify")
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise ReceiptRefused("body is not JSON") from exc
        items = data if isinstance(data, list) else [data]
        receipts = []
        for item in items:
            status = cfg.receipt_statuses.get(str(_dig(item, cfg.receipt_status_field)))
            provider_id = _dig(item, cfg.receipt_id_field)
            if status is None or provider_id is None:
                continue  # a status Tessera does not track
            receipts.append(Receipt(status, provider_id=str(provider_id)))
        return receipts
