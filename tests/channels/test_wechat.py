"""WeChat template and subscribe messages against a local server speaking the
WeChat API: access tokens issued, expired and checked as WeChat does, its
error codes, and signed event pushes as receipts."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import os
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from tessera import OutboundMessage, ReceiptRefused, ReceiptStatus, SendStatus
from tessera.channels import service
from tessera.plugins.channels.wechat import WechatSubscribeMessage, WechatTemplateMessage
from tessera.testing import Answer, ProviderRequest, ProviderServer

APPID = "wx1234567890abcdef"
SECRET = "app-secret-0123456789"
PUSH_TOKEN = "push-token-xyz"


class WeChatApi:
    """Tokens and sends as WeChat answers them. ``errors`` maps an openid to
    the errcode its sends get."""

    def __init__(self) -> None:
        self.counter = itertools.count(1)
        self.valid: set[str] = set()
        self.expired: set[str] = set()
        self.fetches: list[str] = []
        self.sends: list[ProviderRequest] = []
        self.errors: dict[str, int] = {}
        self.token_error: tuple[int, int] | None = None  # (http status, errcode)
        self.tokens_work = True

    def expire_all(self) -> None:
        self.expired |= self.valid
        self.valid.clear()

    def __call__(self, request: ProviderRequest) -> Answer:
        if request.path == "/cgi-bin/stable_token":
            body = request.json()
            return self.issue(
                request.path, body.get("grant_type"), body.get("appid"), body.get("secret")
            )
        if request.path == "/cgi-bin/token":
            q = request.query
            return self.issue(request.path, q.get("grant_type"), q.get("appid"), q.get("secret"))
        if request.path in ("/cgi-bin/message/template/send", "/cgi-bin/message/subscribe/send"):
            return self.send(request)
        return 404, b"not found"

    def issue(self, path: str, grant: str | None, appid: str | None, secret: str | None) -> Answer:
        self.fetches.append(path)
        if self.token_error:
            status, code = self.token_error
            return status, {"errcode": code, "errmsg": "token error"}
        if grant != "client_credential":
            return 200, {"errcode": 40002, "errmsg": "invalid grant_type"}
        if appid != APPID:
            return 200, {"errcode": 40013, "errmsg": "invalid appid"}
        if secret != SECRET:
            return 200, {"errcode": 40125, "errmsg": "invalid appsecret"}
        token = f"ACCESS_TOKEN_{next(self.counter)}"
        if self.tokens_work:
            self.valid.add(token)
        return 200, {"access_token": token, "expires_in": 7200}

    def send(self, request: ProviderRequest) -> Answer:
        self.sends.append(request)
        token = request.query.get("access_token", "")
        if token in self.expired:
            return 200, {"errcode": 42001, "errmsg": "access_token expired"}
        if token not in self.valid:
            return 200, {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"}
        body = request.json()
        data = body.get("data")
        if not body.get("template_id") or not isinstance(data, dict):
            return 200, {"errcode": 47003, "errmsg": "argument invalid!"}
        if not all(isinstance(v, dict) and isinstance(v.get("value"), str) for v in data.values()):
            return 200, {"errcode": 47003, "errmsg": "argument invalid! data.value invalid"}
        if request.path.endswith("subscribe/send") and body.get("miniprogram_state") not in (
            None,
            "developer",
            "trial",
            "formal",
        ):
            return 200, {"errcode": 47003, "errmsg": "argument invalid! miniprogram_state"}
        code = self.errors.get(body.get("touser", ""))
        if code is not None:
            return 200, {"errcode": code, "errmsg": f"error {code}"}
        return 200, {"errcode": 0, "errmsg": "ok", "msgid": 200228330 + len(self.sends)}


@pytest.fixture
def wx(provider: ProviderServer) -> WeChatApi:
    provider.answer = WeChatApi()
    return provider.answer


def config(server: ProviderServer, **extra: object) -> dict[str, object]:
    settings: dict[str, object] = {
        "appid": APPID,
        "secret": SECRET,
        "api_base": server.url,
        "timeout_seconds": 2,
        "push_token": PUSH_TOKEN,
    }
    settings.update(extra)
    return settings


def template_sender(server: ProviderServer, **extra: object) -> WechatTemplateMessage:
    return WechatTemplateMessage(
        WechatTemplateMessage.Config.model_validate(config(server, **extra))
    )


def subscribe_sender(server: ProviderServer, **extra: object) -> WechatSubscribeMessage:
    return WechatSubscribeMessage(
        WechatSubscribeMessage.Config.model_validate(config(server, **extra))
    )


def message(to: str = "oUser-1", **kw: object) -> OutboundMessage:
    fields: dict[str, object] = {
        "to": to,
        "body": "",
        "template": "ngqIpbwh8bUfcSsECmogfXcV14J0tQlEpBO27izEYtY",
        "params": {"points": "1200", "expires": "2026-12-31"},
        "message_id": "msg-7",
    }
    fields.update(kw)
    return OutboundMessage(**fields)  # type: ignore[arg-type]


async def test_a_template_message_is_shaped_as_wechat_takes_it(
    tessera_runtime: object, provider: ProviderServer, wx: WeChatApi
) -> None:
    sender = template_sender(
        provider,
        fields={"points": "keyword1", "expires": "keyword2"},
        miniprogram_appid="wxminiapp",
    )
    result = await sender.send(
        message(data={"url": "https://shop.example/points", "pagepath": "pages/points/index"})
    )

    assert result.status is SendStatus.DELIVERED
    assert result.provider_id == "200228331"
    [sent] = wx.sends
    assert sent.path == "/cgi-bin/message/template/send"
    assert sent.query["access_token"] == "ACCESS_TOKEN_1"
    assert sent.json() == {
        "touser": "oUser-1",
        "template_id": "ngqIpbwh8bUfcSsECmogfXcV14J0tQlEpBO27izEYtY",
        "url": "https://shop.example/points",
        "miniprogram": {"appid": "wxminiapp", "pagepath": "pages/points/index"},
        "data": {"keyword1": {"value": "1200"}, "keyword2": {"value": "2026-12-31"}},
        "client_msg_id": "msg-7",
    }
    assert wx.fetches == ["/cgi-bin/stable_token"]


async def test_a_subscribe_message_is_shaped_as_wechat_takes_it(
    tessera_runtime: object, provider: ProviderServer, wx: WeChatApi
) -> None:
    sender = subscribe_sender(
        provider,
        fields={"points": "number1", "expires": "date2"},
        page="pages/index/index",
        miniprogram_state="trial",
    )
    result = await sender.send(message())

    assert result.status is SendStatus.DELIVERED
    [sent] = wx.sends
    assert sent.path == "/cgi-bin/message/subscribe/send"
    assert sent.json() == {
        "touser": "oUser-1",
        "template_id": "ngqIpbwh8bUfcSsECmogfXcV14J0tQlEpBO27izEYtY",
        "page": "pages/index/index",
        "miniprogram_state": "trial",
        "lang": "zh_CN",
        "data": {"number1": {"value": "1200"}, "date2": {"value": "2026-12-31"}},
    }


async def test_the_classic_token_api_can_be_chosen(
    tessera_runtime: object, provider: ProviderServer, wx: WeChatApi
) -> None:
    result = await template_sender(provider, token_api="token").send(message())
    assert result.status is SendStatus.DELIVERED
    assert wx.fetches == ["/cgi-bin/token"]


async def test_one_token_fetch_serves_many_concurrent_sends(
    tessera_runtime: object, provider: ProviderServer, wx: WeChatApi
) -> None:
    # A new instance per send, as Tessera builds them: the cache is per app.
    results = await asyncio.gather(
        *(template_sender(provider).send(message(f"oUser-{i}")) for i in range(20))
    )
    assert {r.status for r in results} == {SendStatus.DELIVERED}
    assert len(wx.fetches) == 1
    assert {s.query["access_token"] for s in wx.sends} == {"ACCESS_TOKEN_1"}


@pytest.mark.parametrize("code", ["expired", "invalid"])
async def test_an_expired_token_is_refreshed_once_for_all_waiting_sends(
    tessera_runtime: object, provider: ProviderServer, wx: WeChatApi, code: str
) -> None:
    assert (await template_sender(provider).send(message())).status is SendStatus.DELIVERED
    if code == "expired":
        wx.expire_all()  # 42001
    else:
        wx.valid.clear()  # 40001: revoked, e.g. another holder fetched with /cgi-bin/token

    results = await asyncio.gather(
        *(template_sender(provider).send(message(f"oUser-{i}")) for i in range(10))
    )

    assert {r.status for r in results} == {SendStatus.DELIVERED}
    assert len(wx.fetches) == 2
    resent = [s for s in wx.sends[1:] if s.query["access_token"] == "ACCESS_TOKEN_2"]
    assert len(resent) == 10


async def test_a_token_refused_after_a_refresh_is_not_retried_forever(
    tessera_runtime: object, provider: ProviderServer, wx: WeChatApi
) -> None:
    wx.tokens_work = False
    result = await template_sender(provider).send(message())
    assert (result.status, result.retryable) == (SendStatus.FAILED, False)
    assert "freshly fetched access token" in (result.error or "")
    assert len(wx.fetches) == 2 and len(wx.sends) == 2


@pytest.mark.parametrize(
    ("openid", "code", "status", "retryable", "words"),
    [
        ("oUnfollowed", 43004, SendStatus.REJECTED, False, "does not follow"),
        ("oRefused", 43101, SendStatus.REJECTED, False, "refused"),
        ("oStranger", 40003, SendStatus.REJECTED, False, "not a user"),
        ("oBusy", 45009, SendStatus.FAILED, True, "45009"),
        ("oBusy2", 45047, SendStatus.FAILED, True, "45047"),
        ("oSystem", -1, SendStatus.FAILED, True, "-1"),
        ("oBadTemplate", 40037, SendStatus.FAILED, False, "template id is invalid"),
        ("oOdd", 99999, SendStatus.FAILED, False, "99999"),
    ],
)
async def test_wechats_answers_map_to_results(
    tessera_runtime: object,
    provider: ProviderServer,
    wx: WeChatApi,
    openid: str,
    code: int,
    status: SendStatus,
    retryable: bool,
    words: str,
) -> None:
    wx.errors[openid] = code
    for sender in (template_sender(provider), subscribe_sender(provider)):
        result = await sender.send(message(openid))
        assert (result.status, result.retryable) == (status, retryable)
        assert words in (result.error or "")


@pytest.mark.parametrize(
    ("token_error", "retryable", "words"),
    [
        ((200, 40125), False, "app secret is invalid"),
        ((200, 40164), False, "IP whitelist"),
        ((200, -1), True, "-1"),
        ((502, 0), True, "HTTP 502"),
    ],
)
async def test_a_token_that_cannot_be_had_fails_the_send(
    tessera_runtime: object,
    provider: ProviderServer,
    wx: WeChatApi,
    token_error: tuple[int, int],
    retryable: bool,
    words: str,
) -> None:
    wx.token_error = token_error
    result = await template_sender(provider).send(message())
    assert (result.status, result.retryable) == (SendStatus.FAILED, retryable)
    assert words in (result.error or "")
    assert wx.sends == []


async def test_a_wrong_secret_names_the_setting(
    tessera_runtime: object, provider: ProviderServer, wx: WeChatApi
) -> None:
    result = await template_sender(provider, secret="wrong").send(message())
    assert (result.status, result.retryable) == (SendStatus.FAILED, False)
    assert "app secret is invalid" in (result.error or "")


async def test_a_timeout_is_retried(tessera_runtime: object, provider: ProviderServer) -> None:
    provider.answer = lambda request: provider.hang()
    result = await template_sender(provider, timeout_seconds=0.2).send(message())
    assert (result.status, result.retryable) == (SendStatus.FAILED, True)


async def test_a_message_without_a_template_id_is_not_sent(
    tessera_runtime: object, provider: ProviderServer, wx: WeChatApi
) -> None:
    result = await template_sender(provider).send(message(template=None))
    assert (result.status, result.retryable) == (SendStatus.FAILED, False)
    assert wx.fetches == [] and wx.sends == []


def signed_query(token: str = PUSH_TOKEN, timestamp: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = "1514711492"
    # WeChat's rule: sort token, timestamp and nonce, join, SHA-1, hex.
    signature = hashlib.sha1("".join(sorted([token, stamp, nonce])).encode()).hexdigest()
    return {"signature": signature, "timestamp": stamp, "nonce": nonce, "openid": "oUser-1"}


TEMPLATE_FINISHED = """<xml>
<ToUserName><![CDATA[gh_7f083739789a]]></ToUserName>
<FromUserName><![CDATA[oia2TjuEGTNoeX76QEjQNrcURxG8]]></FromUserName>
<CreateTime>1764583200</CreateTime>
<MsgType><![CDATA[event]]></MsgType>
<Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event>
<MsgID>{msgid}</MsgID>
<Status><![CDATA[{status}]]></Status>
</xml>"""

SUBSCRIBE_SENT = """<xml>
<ToUserName><![CDATA[gh_123456789abc]]></ToUserName>
<FromUserName><![CDATA[o7esq5PHRGBQYmeNyfG064wEFVpQ]]></FromUserName>
<CreateTime>1764583200</CreateTime>
<MsgType><![CDATA[event]]></MsgType>
<Event><![CDATA[subscribe_msg_sent_event]]></Event>
<SubscribeMsgSentEvent>
<List>
<TemplateId><![CDATA[VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc]]></TemplateId>
<MsgID>1700827132819554304</MsgID>
<ErrorCode>0</ErrorCode>
<ErrorStatus><![CDATA[success]]></ErrorStatus>
</List>
</SubscribeMsgSentEvent>
</xml>"""


def receiver() -> WechatTemplateMessage:
    return WechatTemplateMessage(
        WechatTemplateMessage.Config.model_validate(
            {"appid": APPID, "secret": SECRET, "push_token": PUSH_TOKEN}
        )
    )


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("success", ReceiptStatus.DELIVERED),
        ("failed:user block", ReceiptStatus.UNSUBSCRIBED),
        ("failed: system failed", ReceiptStatus.FAILED),
    ],
)
def test_template_send_results_become_receipts(status: str, expected: ReceiptStatus) -> None:
    body = TEMPLATE_FINISHED.format(msgid="200163836", status=status).encode()
    [receipt] = receiver().parse_receipts(body, {"content-type": "text/xml"}, signed_query())
    assert receipt.status is expected
    assert receipt.provider_id == "200163836"
    assert receipt.occurred_at == datetime.fromtimestamp(1764583200, UTC)
    assert receipt.detail == status


def test_subscribe_send_results_become_receipts() -> None:
    [receipt] = receiver().parse_receipts(SUBSCRIBE_SENT.encode(), {}, signed_query())
    assert (receipt.status, receipt.provider_id) == (ReceiptStatus.DELIVERED, "1700827132819554304")


def test_other_events_carry_no_receipts() -> None:
    body = b"<xml><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event></xml>"
    assert receiver().parse_receipts(body, {}, signed_query()) == []


@pytest.mark.parametrize(
    ("query", "body"),
    [
        (signed_query(token="another-token"), TEMPLATE_FINISHED),
        ({}, TEMPLATE_FINISHED),
        (signed_query(timestamp=int(time.time()) - 3600), TEMPLATE_FINISHED),
        (signed_query(), "<xml><unclosed>"),
        (
            signed_query(),
            '<!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><xml><Event>&b;</Event></xml>',
        ),
    ],
    ids=["wrong-signature", "unsigned", "stale", "not-xml", "entities"],
)
def test_pushes_that_do_not_verify_are_refused(query: dict[str, str], body: str) -> None:
    payload = body.format(msgid="1", status="success") if "{msgid}" in body else body
    with pytest.raises(ReceiptRefused):
        receiver().parse_receipts(payload.encode(), {}, query)


def test_without_a_push_token_nothing_is_accepted() -> None:
    plain = WechatTemplateMessage(
        WechatTemplateMessage.Config.model_validate({"appid": APPID, "secret": SECRET})
    )
    body = TEMPLATE_FINISHED.format(msgid="1", status="success").encode()
    with pytest.raises(ReceiptRefused, match="push_token"):
        plain.parse_receipts(body, {}, signed_query())


def test_the_server_url_check_echoes_only_to_a_good_signature() -> None:
    query = signed_query() | {"echostr": "5914089718419361374"}
    assert receiver().check_url(query) == "5914089718419361374"
    with pytest.raises(ReceiptRefused):
        receiver().check_url(signed_query(token="another") | {"echostr": "1"})


AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters, as WeChat issues


def encrypted_push(inner: bytes, appid: str = APPID, key: str = AES_KEY) -> tuple[bytes, str]:
    """A safe-mode push built as WeChat's message-encryption spec describes."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    aes = base64.b64decode(key + "=")
    plain = os.urandom(16) + len(inner).to_bytes(4, "big") + inner + appid.encode()
    pad = 32 - len(plain) % 32  # PKCS#7, to WeChat's 32-byte blocks
    padded = plain + bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(aes), modes.CBC(aes[:16])).encryptor()
    encrypt = base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode()
    body = f"<xml><ToUserName><![CDATA[gh_1]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    return body.encode(), encrypt


def safe_query(encrypt: str, token: str = PUSH_TOKEN) -> dict[str, str]:
    query = signed_query(token)
    parts = sorted([token, query["timestamp"], query["nonce"], encrypt])
    msg_signature = hashlib.sha1("".join(parts).encode()).hexdigest()
    return query | {"encrypt_type": "aes", "msg_signature": msg_signature}


def safe_receiver() -> WechatTemplateMessage:
    return WechatTemplateMessage(
        WechatTemplateMessage.Config.model_validate(
            {
                "appid": APPID,
                "secret": SECRET,
                "push_token": PUSH_TOKEN,
                "encoding_aes_key": AES_KEY,
            }
        )
    )


def test_safe_mode_pushes_are_decrypted() -> None:
    inner = TEMPLATE_FINISHED.format(msgid="200163840", status="success").encode()
    body, encrypt = encrypted_push(inner)
    [receipt] = safe_receiver().parse_receipts(body, {}, safe_query(encrypt))
    assert (receipt.status, receipt.provider_id) == (ReceiptStatus.DELIVERED, "200163840")


def test_safe_mode_refuses_tampering_another_app_and_plain_pushes() -> None:
    inner = TEMPLATE_FINISHED.format(msgid="1", status="success").encode()
    body, encrypt = encrypted_push(inner)
    tampered = body.replace(encrypt[:8].encode(), b"AAAAAAAA")
    with pytest.raises(ReceiptRefused, match="msg_signature"):
        safe_receiver().parse_receipts(tampered, {}, safe_query(encrypt))
    other_body, other_encrypt = encrypted_push(inner, appid="wxsomeoneelse")
    with pytest.raises(ReceiptRefused, match="another app"):
        safe_receiver().parse_receipts(other_body, {}, safe_query(other_encrypt))
    # With a key set, a plain push (signature only, body uncovered) is not taken.
    with pytest.raises(ReceiptRefused, match="safe-mode"):
        safe_receiver().parse_receipts(inner, {}, signed_query())


async def test_wechat_checks_the_address_and_gets_its_answer_through_the_endpoint(
    http: Any, brand_a: Any, enable_feature: Any
) -> None:
    await enable_feature(
        brand_a,
        "wechat_template",
        config={"appid": APPID, "secret": SECRET, "push_token": PUSH_TOKEN},
    )
    url = service.receipt_url(brand_a.code, "wechat_template").split("8000", 1)[1]
    # Saving the address in WeChat's console: a signed GET echoed back.
    check = await http.get(url, params={**signed_query(), "echostr": "e-123"})
    assert (check.status_code, check.text) == (200, "e-123")
    forged = await http.get(url, params={**signed_query("not-the-token"), "echostr": "e"})
    assert forged.status_code == 403
    # A push: WeChat pushes again unless it reads `success`.
    push = TEMPLATE_FINISHED.format(msgid="200163840", status="success").encode()
    answer = await http.post(url, params=signed_query(), content=push)
    assert (answer.status_code, answer.text) == (200, "success")
    assert (await http.post(url, params=signed_query("x"), content=push)).status_code == 403
