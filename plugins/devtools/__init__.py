"""Development helpers: a console channel sender that writes messages to the
log instead of a gateway, so campaigns can be tried without credentials."""

from __future__ import annotations

import logging
import uuid

from pydantic import BaseModel, Field

from tessera import ChannelSender, OutboundMessage, SendResult, hookimpl

log = logging.getLogger("tessera.plugins.devtools")


class ConsoleSenderConfig(BaseModel):
    channel_label: str = Field("console", description="shown in each log line")


class ConsoleSmsSender(ChannelSender):
    key = "console_sms"
    title = "Console SMS"
    description = "Writes SMS messages to the log. For development and demos."
    channel = "sms"
    Config = ConsoleSenderConfig

    async def send(self, message: OutboundMessage) -> SendResult:
        provider_id = uuid.uuid4().hex
        log.info("sms to %s: %s", message.to, message.body, extra={"provider_id": provider_id})
        return SendResult.delivered(provider_id)


@hookimpl
def tessera_register_channel_senders() -> list[type[ChannelSender]]:
    return [ConsoleSmsSender]
