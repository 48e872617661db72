"""An example Tessera plugin: a webhook channel sender, and a log line for
every domain event of the brands that enabled it.

It imports only ``tessera``'s public plugin API, as every plugin should.
"""

from __future__ import annotations

import hashlib
import hmac
import json

import httpx
from pydantic import BaseModel, Field, HttpUrl, SecretStr

from tessera import (
    ChannelSender,
    DomainEvent,
    OutboundMessage,
    PluginContext,
    SendResult,
    hookimpl,
)


class WebhookConfig(BaseModel):
    url: HttpUrl = Field(description="Where each message is POSTed as JSON.")
    signing_secret: SecretStr = Field(
        description="Shared secret; the body's HMAC-SHA256 is sent in X-Signature."
    )
    timeout_seconds: float = Field(5.0, gt=0, le=30, description="Per request.")


def signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookSender(ChannelSender):
    key = "example_webhook"
    title = "Signed webhook"
    description = "POSTs each message as JSON to your endpoint, signed with a shared secret."
    channel = "webhook"
    Config = WebhookConfig

    async def send(self, message: OutboundMessage) -> SendResult:
        config: WebhookConfig = self.config  # type: ignore[assignment]
        body = json.dumps(
            {"to": message.to, "subject": message.subject, "body": message.body}
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Signature": signature(config.signing_secret.get_secret_value(), body),
        }
        async with httpx.AsyncClient(timeout=config.timeout_seconds) as client:
            response = await client.post(str(config.url), content=body, headers=headers)
        if response.status_code >= 500:
            response.raise_for_status()  # worth a retry
        return SendResult(
            accepted=response.is_success,
            provider_id=response.headers.get("X-Message-Id"),
            error=None if response.is_success else f"HTTP {response.status_code}",
        )


@hookimpl
def tessera_register_channel_senders() -> list[type[ChannelSender]]:
    return [WebhookSender]


@hookimpl
def tessera_on_event(event: DomainEvent, context: PluginContext) -> None:
    context.log.info(
        "%s on brand %s",
        event.name,
        context.brand.code,
        extra={"event": event.name, "payload": event.payload},
    )
