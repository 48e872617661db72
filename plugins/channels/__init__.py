"""Channel senders: the components that deliver a rendered message on one
channel (docs/channels.md). Each sender lives in its own module; the hook
below lists them all, so a brand can enable at most one per channel."""

from __future__ import annotations

from tessera import ChannelSender, hookimpl
from tessera.plugins.channels.email_smtp import SmtpEmailSender
from tessera.plugins.channels.sms_http import HttpSmsSender


@hookimpl
def tessera_register_channel_senders() -> list[type[ChannelSender]]:
    return [SmtpEmailSender, HttpSmsSender]
