"""Channel senders: the components that deliver a rendered message on one
channel (docs/channels.md): email over SMTP, SMS through a configurable HTTP
gateway or Alibaba Cloud SMS, WeChat (Official Account template messages,
Mini Program subscribe messages) and app push through an HTTP gateway
(docs/channels-providers.md). Each sender lives in its own module; the hook
below lists them all, and a brand enables at most one per channel."""

from __future__ import annotations

from tessera import ChannelSender, hookimpl
from tessera.plugins.channels.aliyun_sms import AliyunSms
from tessera.plugins.channels.email_smtp import SmtpEmailSender
from tessera.plugins.channels.push_http import HttpPush
from tessera.plugins.channels.sms_http import HttpSmsSender
from tessera.plugins.channels.wechat import WechatSubscribeMessage, WechatTemplateMessage


@hookimpl
def tessera_register_channel_senders() -> list[type[ChannelSender]]:
    return [
        SmtpEmailSender,
        HttpSmsSender,
        AliyunSms,
        WechatTemplateMessage,
        WechatSubscribeMessage,
        HttpPush,
    ]
