"""Channel senders: Alibaba Cloud SMS, WeChat (Official Account template
messages, Mini Program subscribe messages) and app push through an HTTP
gateway. docs/channels-providers.md explains their settings and answers."""

from __future__ import annotations

from tessera import ChannelSender, hookimpl
from tessera.plugins.channels.aliyun_sms import AliyunSms
from tessera.plugins.channels.push_http import HttpPush
from tessera.plugins.channels.wechat import WechatSubscribeMessage, WechatTemplateMessage


@hookimpl
def tessera_register_channel_senders() -> list[type[ChannelSender]]:
    return [AliyunSms, WechatTemplateMessage, WechatSubscribeMessage, HttpPush]
