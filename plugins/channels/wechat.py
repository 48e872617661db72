"""WeChat: Official Account template messages (模板消息) and Mini Program
subscribe messages (订阅消息), both on the ``wechat`` channel; the recipient
(``to``) is the member's openid under the sending app.

Both need an access token fetched with the app's appid and secret. It is
cached per app in the process until shortly before it expires, one fetch at
a time however many sends ask at once, and refetched once when WeChat says
it expired or is invalid. Receipts are WeChat's event pushes
(``TEMPLATESENDJOBFINISH``, ``subscribe_msg_sent_event``), XML signed with
the token set in the app's server configuration.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal
from xml.etree.ElementTree import Element

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from defusedxml import ElementTree
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

TOKEN_EXPIRY_CODES = frozenset({40001, 40014, 42001})
# 43004: the user unfollowed the Official Account; 43101: the user refused
# (or never accepted) the subscription; 40003: the openid is not a user of the app.
RECIPIENT_CODES = {
    43004: "the user does not follow the Official Account",
    43101: "the user refused the subscription message",
    40003: "the openid is not a user of this app",
}
RETRYABLE_CODES = frozenset({-1, 45009, 45047, 45011})
CONFIG_CODES = {
    40013: "the appid is invalid",
    40125: "the app secret is invalid",
    40164: "this server's IP is not on the app's IP whitelist",
    40037: "the template id is invalid",
    41030: "the page is not a page of the Mini Program",
    47003: "the template data does not match the template's fields",
    48001: "the app is not authorised for this API",
    40036: "the template id is invalid",
    43116: "the template was suspended for abuse",
}

# A token is thrown away this long before WeChat says it expires, so a send
# never goes out with one that lapses on the way.
EXPIRY_MARGIN_SECONDS = 300
# A pushed event older (or newer) than this is refused: a signature covers only
# token, timestamp and nonce, so freshness is what stops a replay.
MAX_PUSH_AGE_SECONDS = 600
# What the callback endpoint answers a push with: WeChat retries (three
# times) a push that gets anything but "success" or an empty body in 5 s.
RECEIPT_ACK = b"success"


class WechatConfigBase(BaseModel):
    appid: str = Field(min_length=1, description="AppID of the Official Account or Mini Program")
    secret: SecretStr = Field(description="AppSecret (开发 › 基本配置 / 开发管理)")
    api_base: HttpUrl = Field(
        HttpUrl("https://api.weixin.qq.com"), description="WeChat API base URL"
    )
    token_api: Literal["stable_token", "token"] = Field(
        "stable_token",
        description=(
            "stable_token keeps other holders of the appid working; token "
            "(the classic API) invalidates their tokens on every fetch"
        ),
    )
    template_id: str | None = Field(None, description="Used when a message names none")
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="Template parameter name → WeChat field key (e.g. points → keyword2)",
    )
    timeout_seconds: float = Field(10.0, gt=0, le=60, description="Per request")
    push_token: SecretStr | None = Field(
        None, description="Token (令牌) of the server configuration, for send-result events"
    )
    encoding_aes_key: SecretStr | None = Field(
        None,
        min_length=43,
        max_length=43,
        description="EncodingAESKey of the server configuration, for safe-mode pushes",
    )


class WechatTemplateConfig(WechatConfigBase):
    miniprogram_appid: str | None = Field(
        None, description="Mini Program a template message opens (with data.pagepath)"
    )


class WechatSubscribeConfig(WechatConfigBase):
    page: str | None = Field(None, description="Mini Program page a message opens by default")
    miniprogram_state: Literal["developer", "trial", "formal"] = Field(
        "formal", description="Which version of the Mini Program the message opens"
    )
    lang: Literal["zh_CN", "en_US", "zh_HK", "zh_TW"] = Field("zh_CN")


@dataclass
class _Token:
    value: str
    expires_at: float


_tokens: dict[tuple[str, str], _Token] = {}
# One lock per app and event loop: a lock belongs to the loop it first waited on.
_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str], asyncio.Lock]]
_locks = weakref.WeakKeyDictionary()


class TokenError(Exception):
    def __init__(self, result: SendResult) -> None:
        super().__init__(result.error)
        self.result = result


def forget_tokens() -> None:
    """Drop every cached access token (tests; a rotated secret)."""
    _tokens.clear()


class _WechatSender(ChannelSender):
    channel = "wechat"
    path: ClassVar[str]

    async def send(self, message: OutboundMessage) -> SendResult:
        config: WechatConfigBase = self.config  # type: ignore[assignment]
        template_id = message.template or config.template_id
        if not template_id:
            return SendResult.failed(
                "the message names no WeChat template id and the sender has no default template_id",
                retryable=False,
            )
        payload = self.payload(message, template_id)
        try:
            token = await self._token(stale=None)
            result, code = await self._post(token, payload)
            if code in TOKEN_EXPIRY_CODES:
                token = await self._token(stale=token)
                result, code = await self._post(token, payload)
                if code in TOKEN_EXPIRY_CODES:
                    return SendResult.failed(
                        f"WeChat refused a freshly fetched access token ({result.error})",
                        retryable=False,
                    )
        except TokenError as error:
            return error.result
        return result

    def payload(self, message: OutboundMessage, template_id: str) -> dict[str, Any]:
        raise NotImplementedError

    def data(self, message: OutboundMessage) -> dict[str, dict[str, str]]:
        config: WechatConfigBase = self.config  # type: ignore[assignment]
        return {config.fields.get(name, name): {"value": v} for name, v in message.params.items()}

    async def _post(self, token: str, payload: dict[str, Any]) -> tuple[SendResult, int | None]:
        config: WechatConfigBase = self.config  # type: ignore[assignment]
        answer = await _http.call(
            "POST",
            f"{str(config.api_base).rstrip('/')}{self.path}",
            timeout=config.timeout_seconds,
            params={"access_token": token},
            json=payload,
        )
        if isinstance(answer, SendResult):
            return answer, None
        body = _http.json_or_none(answer)
        if answer.status_code >= 500:
            return SendResult.failed(f"HTTP {answer.status_code}", retryable=True), None
        if not isinstance(body, dict) or not isinstance(body.get("errcode", 0), int):
            return (
                SendResult.failed(
                    f"HTTP {answer.status_code}: {_http.excerpt(answer)}",
                    retryable=False,
                ),
                None,
            )
        code = int(body.get("errcode", 0))
        said = f"{code}: {body.get('errmsg', '')}"
        if code == 0:
            msgid = body.get("msgid")
            return SendResult.delivered(str(msgid) if msgid is not None else None), 0
        if code in RECIPIENT_CODES:
            return SendResult.rejected(f"{RECIPIENT_CODES[code]} ({said})"), code
        if code in RETRYABLE_CODES:
            return SendResult.failed(said, retryable=True), code
        if code in CONFIG_CODES:
            return SendResult.failed(
                f"WeChat: {CONFIG_CODES[code]} ({said})", retryable=False
            ), code
        return SendResult.failed(said, retryable=False), code

    async def _token(self, *, stale: str | None) -> str:
        """The app's access token; with ``stale``, one other than that token
        (which WeChat just refused). Concurrent callers wait for one fetch."""
        config: WechatConfigBase = self.config  # type: ignore[assignment]
        cache_key = (str(config.api_base), config.appid)
        cached = _tokens.get(cache_key)
        if cached and cached.value != stale and cached.expires_at > time.monotonic():
            return cached.value
        locks = _locks.setdefault(asyncio.get_running_loop(), {})
        async with locks.setdefault(cache_key, asyncio.Lock()):
            # Another sender may have fetched one while this one waited.
            cached = _tokens.get(cache_key)
            if cached and cached.value != stale and cached.expires_at > time.monotonic():
                return cached.value
            token = await self._fetch_token(config)
            _tokens[cache_key] = token
            return token.value

    @staticmethod
    async def _fetch_token(config: WechatConfigBase) -> _Token:
        base = str(config.api_base).rstrip("/")
        secret = config.secret.get_secret_value()
        if config.token_api == "stable_token":
            answer = await _http.call(
                "POST",
                f"{base}/cgi-bin/stable_token",
                timeout=config.timeout_seconds,
                json={"grant_type": "client_credential", "appid": config.appid, "secret": secret},
            )
        else:
            answer = await _http.call(
                "GET",
                f"{base}/cgi-bin/token",
                timeout=config.timeout_seconds,
                params={"grant_type": "client_credential", "appid": config.appid, "secret": secret},
            )
        if isinstance(answer, SendResult):
            raise TokenError(answer)
        if answer.status_code >= 500:
            raise TokenError(
                SendResult.failed(f"access token: HTTP {answer.status_code}", retryable=True)
            )
        body = _http.json_or_none(answer)
        if isinstance(body, dict) and isinstance(body.get("access_token"), str):
            expires_in = int(body.get("expires_in") or 7200)
            return _Token(
                body["access_token"],
                time.monotonic() + max(expires_in - EXPIRY_MARGIN_SECONDS, 0),
            )
        code = body.get("errcode") if isinstance(body, dict) else None
        said = (
            f"{code}: {body.get('errmsg', '')}" if isinstance(body, dict) else _http.excerpt(answer)
        )
        if code in RETRYABLE_CODES:
            raise TokenError(SendResult.failed(f"access token: {said}", retryable=True))
        reason = (
            CONFIG_CODES.get(code, "could not fetch an access token")
            if isinstance(code, int)
            else "could not fetch an access token"
        )
        raise TokenError(SendResult.failed(f"WeChat: {reason} ({said})", retryable=False))

    def receipt_answer(self) -> tuple[bytes, str]:
        return RECEIPT_ACK, "text/plain"

    def check_callback_url(self, query: Mapping[str, str]) -> str:
        return self.check_url(query)

    def check_url(self, query: Mapping[str, str]) -> str:
        """WeChat's check of the server URL when it is saved in the console: a
        GET with ``signature``, ``timestamp``, ``nonce`` and ``echostr``; the
        answer must be ``echostr`` itself, and only to a good signature."""
        self._verify(query)
        return query.get("echostr", "")

    def _verify(self, query: Mapping[str, str]) -> None:
        config: WechatConfigBase = self.config  # type: ignore[assignment]
        if config.push_token is None:
            raise ReceiptRefused(f"{self.key}: set push_token to accept WeChat's event pushes")
        signature, timestamp, nonce = (
            query.get(k, "") for k in ("signature", "timestamp", "nonce")
        )
        if not (signature and timestamp and nonce):
            raise ReceiptRefused(f"{self.key}: signature, timestamp and nonce are required")
        expected = push_signature(config.push_token.get_secret_value(), timestamp, nonce)
        if not hmac.compare_digest(expected, signature.lower()):
            raise ReceiptRefused(f"{self.key}: the signature does not verify")
        try:
            age = abs(time.time() - int(timestamp))
        except ValueError as error:
            raise ReceiptRefused(f"{self.key}: the timestamp is not a number") from error
        if age > MAX_PUSH_AGE_SECONDS:
            raise ReceiptRefused(f"{self.key}: the push is {age:.0f}s old")

    def parse_receipts(
        self,
        body: bytes,
        headers: Mapping[str, str],
        query: Mapping[str, str] | None = None,
    ) -> list[Receipt]:
        query = query or {}
        self._verify(query)
        root = self._xml(body)
        config: WechatConfigBase = self.config  # type: ignore[assignment]
        if config.encoding_aes_key is not None:
            # With a key set, only encrypted pushes count: the plain signature
            # covers no body, so a plain push could be anyone's.
            root = self._xml(self._decrypt(root, query, config))
        return event_receipts(root)

    def _xml(self, body: bytes) -> Element:
        try:
            return ElementTree.fromstring(body)  # type: ignore[no-any-return]
        except Exception as error:  # defusedxml raises its own, expat its own
            raise ReceiptRefused(f"{self.key}: not XML: {error}") from error

    def _decrypt(self, root: Element, query: Mapping[str, str], config: WechatConfigBase) -> bytes:
        """The inner XML of a safe-mode push (WeChat's message encryption:
        AES-256-CBC, key = base64(EncodingAESKey + "="), IV = its first 16
        bytes, PKCS#7 to 32 bytes; random 16 bytes, a 4-byte length, the
        message, the appid), after checking ``msg_signature`` over it."""
        assert config.encoding_aes_key is not None and config.push_token is not None
        encrypted = (root.findtext("Encrypt") or "").strip()
        offered = query.get("msg_signature", "").lower()
        if not encrypted or not offered:
            raise ReceiptRefused(
                f"{self.key}: a safe-mode push (Encrypt, msg_signature) is required"
            )
        token = config.push_token.get_secret_value()
        parts = sorted([token, query.get("timestamp", ""), query.get("nonce", ""), encrypted])
        if not hmac.compare_digest(hashlib.sha1("".join(parts).encode()).hexdigest(), offered):
            raise ReceiptRefused(f"{self.key}: msg_signature does not verify")
        try:
            key = base64.b64decode(config.encoding_aes_key.get_secret_value() + "=")
            decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
            padded = decryptor.update(base64.b64decode(encrypted)) + decryptor.finalize()
        except (ValueError, binascii.Error) as error:
            raise ReceiptRefused(f"{self.key}: cannot decrypt: {error}") from error
        pad = padded[-1] if padded else 0
        if not 1 <= pad <= 32 or len(padded) < 20 + pad:
            raise ReceiptRefused(f"{self.key}: bad padding")
        plain = padded[:-pad]
        length = int.from_bytes(plain[16:20], "big")
        message, appid = plain[20 : 20 + length], plain[20 + length :]
        if appid.decode(errors="replace") != config.appid:
            raise ReceiptRefused(f"{self.key}: the push is for another app")
        return message


def push_signature(token: str, timestamp: str, nonce: str) -> str:
    """WeChat's signature of a push: sha1 of token, timestamp and nonce,
    sorted as strings and concatenated, in lower-case hex."""
    return hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()


def event_receipts(root: Element) -> list[Receipt]:
    """Receipts in one pushed event; other events and messages (follows,
    menu clicks) carry none and give an empty list."""
    event = (root.findtext("Event") or "").strip()
    created = root.findtext("CreateTime")
    occurred_at = (
        datetime.fromtimestamp(int(created), UTC) if created and created.isdigit() else None
    )
    if event == "TEMPLATESENDJOBFINISH":
        status = (root.findtext("Status") or "").strip()
        return [_receipt(root.findtext("MsgID") or root.findtext("MsgId"), status, occurred_at)]
    if event == "subscribe_msg_sent_event":
        return [
            _receipt(
                item.findtext("MsgID"), (item.findtext("ErrorStatus") or "").strip(), occurred_at
            )
            for item in root.iterfind("SubscribeMsgSentEvent/List")
        ]
    return []


def _receipt(msgid: str | None, status: str, occurred_at: datetime | None) -> Receipt:
    if status == "success":
        outcome = ReceiptStatus.DELIVERED
    elif "user block" in status or "refuse" in status:
        # The user switched this account's messages off: their unsubscribe.
        outcome = ReceiptStatus.UNSUBSCRIBED
    else:
        outcome = ReceiptStatus.FAILED
    return Receipt(
        status=outcome,
        provider_id=(msgid or "").strip() or None,
        occurred_at=occurred_at,
        detail=status or None,
    )


class WechatTemplateMessage(_WechatSender):
    key = "wechat_template"
    title = "WeChat Official Account template messages"
    description = "Sends template messages (模板消息) to followers of a WeChat Official Account."
    Config = WechatTemplateConfig
    path = "/cgi-bin/message/template/send"

    def payload(self, message: OutboundMessage, template_id: str) -> dict[str, Any]:
        config: WechatTemplateConfig = self.config  # type: ignore[assignment]
        payload: dict[str, Any] = {
            "touser": message.to,
            "template_id": template_id,
            "data": self.data(message),
        }
        if url := message.data.get("url"):
            payload["url"] = str(url)
        appid = message.data.get("miniprogram_appid") or config.miniprogram_appid
        if appid and (pagepath := message.data.get("pagepath")):
            payload["miniprogram"] = {"appid": str(appid), "pagepath": str(pagepath)}
        if message.message_id:
            # WeChat sends one message per openid and client_msg_id within 10 minutes.
            payload["client_msg_id"] = message.message_id[:64]
        return payload


class WechatSubscribeMessage(_WechatSender):
    key = "wechat_subscribe"
    title = "WeChat Mini Program subscribe messages"
    description = (
        "Sends subscribe messages (订阅消息) to users of a WeChat Mini Program who accepted them."
    )
    Config = WechatSubscribeConfig
    path = "/cgi-bin/message/subscribe/send"

    def payload(self, message: OutboundMessage, template_id: str) -> dict[str, Any]:
        config: WechatSubscribeConfig = self.config  # type: ignore[assignment]
        payload: dict[str, Any] = {
            "touser": message.to,
            "template_id": template_id,
            "data": self.data(message),
            "miniprogram_state": config.miniprogram_state,
            "lang": config.lang,
        }
        if page := message.data.get("page") or config.page:
            payload["page"] = str(page)
        return payload
