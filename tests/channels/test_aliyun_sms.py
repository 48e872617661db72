"""Alibaba Cloud SMS against a local server that verifies each request as
Dysmsapi does (RPC signature 1.0, timestamp window, nonce reuse) and answers
in its shapes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

import pytest

from tessera import OutboundMessage, ReceiptRefused, ReceiptStatus, SendStatus
from tessera.plugins.channels.aliyun_sms import AliyunSms, sign
from tessera.testing import Answer, ProviderRequest, ProviderServer

KEY_ID = "LTAI5tTesseraTest"
SECRET = "s3cr3t/with+odd=chars"
UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


def spec_encode(text: str) -> str:
    """Alibaba's percentEncode, byte by byte as its spec words it."""
    return "".join(chr(b) if b in UNRESERVED else f"%{b:02X}" for b in text.encode())


class Dysmsapi:
    """What Alibaba checks before it looks at the message, then the answer
    the test picked for the phone number."""

    def __init__(self, answers: dict[str, Answer] | None = None) -> None:
        self.answers = answers or {}
        self.nonces: set[str] = set()

    def __call__(self, request: ProviderRequest) -> Answer:
        if request.method != "POST" or not request.headers["content-type"].startswith(
            "application/x-www-form-urlencoded"
        ):
            return 400, {"Code": "InvalidParameter", "Message": "form POST expected"}
        pairs = parse_qsl(request.body.decode(), keep_blank_values=True, strict_parsing=True)
        params = dict(pairs)
        assert len(params) == len(pairs), "a parameter sent twice"
        missing = {
            "AccessKeyId",
            "Action",
            "Format",
            "PhoneNumbers",
            "SignName",
            "Signature",
            "SignatureMethod",
            "SignatureNonce",
            "SignatureVersion",
            "TemplateCode",
            "Timestamp",
            "Version",
        } - params.keys()
        if missing:
            return 400, {"Code": "MissingParameter", "Message": ", ".join(sorted(missing))}
        if params["AccessKeyId"] != KEY_ID:
            return 404, {
                "Code": "InvalidAccessKeyId.NotFound",
                "Message": "Specified access key is not found.",
            }
        fixed = {
            "Action": "SendSms",
            "Version": "2017-05-25",
            "SignatureMethod": "HMAC-SHA1",
            "SignatureVersion": "1.0",
            "Format": "JSON",
        }
        if any(params[k] != v for k, v in fixed.items()):
            return 400, {"Code": "InvalidParameter", "Message": str(params)}
        stamp = datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        if abs(datetime.now(UTC) - stamp) > timedelta(minutes=15):
            return 400, {"Code": "InvalidTimeStamp.Expired", "Message": params["Timestamp"]}
        if params["SignatureNonce"] in self.nonces:
            return 400, {"Code": "SignatureNonceUsed", "Message": "nonce used"}
        self.nonces.add(params["SignatureNonce"])
        offered = params.pop("Signature")
        canonical = "&".join(
            f"{spec_encode(k)}={spec_encode(v)}" for k, v in sorted(params.items())
        )
        to_sign = "POST&" + spec_encode("/") + "&" + spec_encode(canonical)
        expected = base64.b64encode(
            hmac.new((SECRET + "&").encode(), to_sign.encode(), hashlib.sha1).digest()
        ).decode()
        if offered != expected:
            return 400, {
                "Code": "SignatureDoesNotMatch",
                "Message": f"Specified signature is not matched with our calculation. "
                f"server string to sign is:{to_sign}",
            }
        if params["PhoneNumbers"] in self.answers:
            return self.answers[params["PhoneNumbers"]]
        return 200, {
            "Code": "OK",
            "Message": "OK",
            "BizId": f"9006197469364984^{len(self.nonces)}",
            "RequestId": "F655A8D5-B967-440B-8683-DAD6FF8DE990",
        }


def sender(server: ProviderServer, **config: object) -> AliyunSms:
    settings: dict[str, object] = {
        "access_key_id": KEY_ID,
        "access_key_secret": SECRET,
        "sign_name": "阿里云短信测试",
        "endpoint": f"{server.url}/",
        "timeout_seconds": 2,
        "receipt_token": "rcpt-token-1",
    }
    settings.update(config)
    return AliyunSms(AliyunSms.Config.model_validate(settings))


def message(to: str = "13800000000", **kw: object) -> OutboundMessage:
    fields: dict[str, object] = {
        "to": to,
        "body": "",
        "template": "SMS_154950909",
        "params": {"name": "李雷", "points": "1 200", "tail": "a*b~c+d/e&f=g"},
        "message_id": "msg-42",
    }
    fields.update(kw)
    return OutboundMessage(**fields)  # type: ignore[arg-type]


@pytest.fixture
def api(provider: ProviderServer) -> Dysmsapi:
    provider.answer = Dysmsapi()
    return provider.answer


def test_signature_matches_alibabas_worked_example() -> None:
    # The worked example of Alibaba's SMS signature documentation (a GET).
    params = {
        "AccessKeyId": "testId",
        "Action": "SendSms",
        "Format": "XML",
        "OutId": "123",
        "PhoneNumbers": "15300000001",
        "RegionId": "cn-hangzhou",
        "SignName": "阿里云短信测试专用",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
        "SignatureVersion": "1.0",
        "TemplateCode": "SMS_71390007",
        "TemplateParam": '{"customer":"test"}',
        "Timestamp": "2017-07-12T02:42:19Z",
        "Version": "2017-05-25",
    }
    assert sign(params, "testSecret", method="GET") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


async def test_send_is_signed_and_shaped_as_alibaba_checks(
    tessera_runtime: object, provider: ProviderServer, api: Dysmsapi
) -> None:
    result = await sender(provider).send(message())

    assert result.status is SendStatus.DELIVERED
    assert result.provider_id == "9006197469364984^1"
    [request] = provider.requests
    sent = dict(parse_qsl(request.body.decode()))
    assert sent["PhoneNumbers"] == "13800000000"
    assert sent["SignName"] == "阿里云短信测试"
    assert sent["TemplateCode"] == "SMS_154950909"
    assert json.loads(sent["TemplateParam"]) == message().params
    assert sent["OutId"] == "msg-42"
    assert sent["RegionId"] == "cn-hangzhou"
    assert "%20" in request.body.decode() and "+" not in request.body.decode()


async def test_each_attempt_has_a_fresh_nonce(
    tessera_runtime: object, provider: ProviderServer, api: Dysmsapi
) -> None:
    one = sender(provider)
    results = [await one.send(message()) for _ in range(3)]
    assert [r.status for r in results] == [SendStatus.DELIVERED] * 3
    assert len(api.nonces) == 3


async def test_a_wrong_secret_is_a_configuration_error(
    tessera_runtime: object, provider: ProviderServer, api: Dysmsapi
) -> None:
    result = await sender(provider, access_key_secret="not-the-secret").send(message())
    assert (result.status, result.retryable) == (SendStatus.FAILED, False)
    assert "secret does not match" in (result.error or "")
    assert "SignatureDoesNotMatch" in (result.error or "")


async def test_an_unknown_key_id_is_a_configuration_error(
    tessera_runtime: object, provider: ProviderServer, api: Dysmsapi
) -> None:
    result = await sender(provider, access_key_id="LTAI-unknown").send(message())
    assert (result.status, result.retryable) == (SendStatus.FAILED, False)
    assert "AccessKey ID is unknown" in (result.error or "")


@pytest.mark.parametrize(
    ("http_status", "code", "status", "retryable", "words"),
    [
        (200, "isv.BUSINESS_LIMIT_CONTROL", SendStatus.FAILED, True, "BUSINESS_LIMIT_CONTROL"),
        (400, "Throttling.User", SendStatus.FAILED, True, "Throttling.User"),
        (200, "isv.DAY_LIMIT_CONTROL", SendStatus.FAILED, True, "DAY_LIMIT_CONTROL"),
        (500, "isp.SYSTEM_ERROR", SendStatus.FAILED, True, "SYSTEM_ERROR"),
        (200, "isv.MOBILE_NUMBER_ILLEGAL", SendStatus.REJECTED, False, "MOBILE_NUMBER_ILLEGAL"),
        (200, "isv.SMS_SIGNATURE_ILLEGAL", SendStatus.FAILED, False, "sign name"),
        (200, "isv.SMS_TEMPLATE_ILLEGAL", SendStatus.FAILED, False, "template code"),
        (200, "isv.TEMPLATE_MISSING_PARAMETERS", SendStatus.FAILED, False, "no value"),
        (200, "isv.AMOUNT_NOT_ENOUGH", SendStatus.FAILED, False, "balance"),
        # Content and our server's address, not the recipient: no do-not-contact.
        (200, "isv.BLACK_KEY_CONTROL_LIMIT", SendStatus.FAILED, False, "blocked keyword"),
        (200, "isv.DENY_IP_RANGE", SendStatus.FAILED, False, "IP region"),
        (200, "isv.SOMETHING_NEW", SendStatus.FAILED, False, "isv.SOMETHING_NEW"),
    ],
)
async def test_alibabas_answers_map_to_results(
    tessera_runtime: object,
    provider: ProviderServer,
    api: Dysmsapi,
    http_status: int,
    code: str,
    status: SendStatus,
    retryable: bool,
    words: str,
) -> None:
    api.answers["13900000000"] = (
        http_status,
        {"Code": code, "Message": "说明", "RequestId": "8D2B2A1B-0000"},
    )
    result = await sender(provider).send(message("13900000000"))
    assert (result.status, result.retryable) == (status, retryable)
    assert words in (result.error or "")


async def test_a_server_error_without_json_is_retried(
    tessera_runtime: object, provider: ProviderServer
) -> None:
    provider.answer = lambda request: (503, b"<html>Service Unavailable</html>")
    result = await sender(provider).send(message())
    assert (result.status, result.retryable) == (SendStatus.FAILED, True)
    assert "HTTP 503" in (result.error or "")


async def test_a_timeout_is_retried(tessera_runtime: object, provider: ProviderServer) -> None:
    provider.answer = lambda request: provider.hang()
    result = await sender(provider, timeout_seconds=0.2).send(message())
    assert (result.status, result.retryable) == (SendStatus.FAILED, True)
    assert "no answer within 0.2s" in (result.error or "")


async def test_an_unreachable_endpoint_is_retried(tessera_runtime: object) -> None:
    closed = AliyunSms(
        AliyunSms.Config.model_validate(
            {
                "access_key_id": KEY_ID,
                "access_key_secret": SECRET,
                "sign_name": "x",
                "endpoint": "http://127.0.0.1:9/",
            }
        )
    )
    result = await closed.send(message())
    assert (result.status, result.retryable) == (SendStatus.FAILED, True)


async def test_a_message_without_a_template_is_not_sent(
    tessera_runtime: object, provider: ProviderServer, api: Dysmsapi
) -> None:
    result = await sender(provider).send(message(template=None))
    assert (result.status, result.retryable) == (SendStatus.FAILED, False)
    assert provider.requests == []

    defaulted = await sender(provider, template_code="SMS_1").send(message(template=None))
    assert defaulted.status is SendStatus.DELIVERED
    assert dict(parse_qsl(provider.requests[0].body.decode()))["TemplateCode"] == "SMS_1"


async def test_an_overlong_variable_is_refused_before_sending(
    tessera_runtime: object, provider: ProviderServer, api: Dysmsapi
) -> None:
    result = await sender(provider).send(message(params={"name": "x" * 36, "ok": "y"}))
    assert (result.status, result.retryable) == (SendStatus.FAILED, False)
    assert "name" in (result.error or "") and "35" in (result.error or "")
    assert provider.requests == []


REPORT = [
    {
        "phone_number": "13800000000",
        "send_time": "2026-12-01 10:00:00",
        "report_time": "2026-12-01 10:00:05",
        "success": True,
        "err_code": "DELIVERED",
        "err_msg": "用户接收成功",
        "sms_size": "1",
        "biz_id": "9006197469364984^1",
        "out_id": "msg-42",
    },
    {
        "phone_number": "13900000000",
        "send_time": "2026-12-01 10:00:00",
        "report_time": "2026-12-01 10:01:00",
        "success": False,
        "err_code": "MK:0001",
        "err_msg": "空号",
        "sms_size": "1",
        "biz_id": "9006197469364984^2",
        "out_id": "",
    },
]


def test_delivery_reports_become_receipts() -> None:
    body = json.dumps(REPORT, ensure_ascii=False).encode()
    receipts = AliyunSms(
        AliyunSms.Config.model_validate(
            {
                "access_key_id": "k",
                "access_key_secret": "s",
                "sign_name": "x",
                "receipt_token": "t0k",
            }
        )
    ).parse_receipts(body, {"content-type": "application/json"}, {"token": "t0k"})

    delivered, failed = receipts
    assert delivered.status is ReceiptStatus.DELIVERED
    assert (delivered.provider_id, delivered.message_id) == ("9006197469364984^1", "msg-42")
    # Alibaba reports Beijing time.
    assert delivered.occurred_at == datetime(2026, 12, 1, 2, 0, 5, tzinfo=UTC)
    assert failed.status is ReceiptStatus.FAILED
    assert (failed.provider_id, failed.message_id) == ("9006197469364984^2", None)
    assert failed.detail == "MK:0001 空号"


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ({}, {"token": "t0k"}),
        ({"Authorization": "Bearer t0k"}, None),
        ({"authorization": "Basic " + base64.b64encode(b"tessera:t0k").decode()}, None),
        ({"X-Tessera-Token": "t0k"}, {}),
    ],
    ids=["query", "bearer", "basic", "header"],
)
def test_the_shared_token_is_taken_where_a_url_can_carry_it(
    headers: dict[str, str], query: dict[str, str] | None
) -> None:
    config = {
        "access_key_id": "k",
        "access_key_secret": "s",
        "sign_name": "x",
        "receipt_token": "t0k",
    }
    receiver = AliyunSms(AliyunSms.Config.model_validate(config))
    assert len(receiver.parse_receipts(json.dumps(REPORT).encode(), headers, query)) == 2


@pytest.mark.parametrize(
    ("token", "query", "body"),
    [
        ("t0k", {"token": "wrong"}, json.dumps(REPORT).encode()),
        ("t0k", {}, json.dumps(REPORT).encode()),
        (None, {"token": "t0k"}, json.dumps(REPORT).encode()),
        ("t0k", {"token": "t0k"}, b'{"phone_number": "1"}'),
        ("t0k", {"token": "t0k"}, b"not json"),
    ],
    ids=["wrong-token", "no-token", "no-token-configured", "not-an-array", "not-json"],
)
def test_reports_that_do_not_verify_are_refused(
    token: str | None, query: dict[str, str], body: bytes
) -> None:
    config = {
        "access_key_id": "k",
        "access_key_secret": "s",
        "sign_name": "x",
        "receipt_token": token,
    }
    receiver = AliyunSms(AliyunSms.Config.model_validate(config))
    with pytest.raises(ReceiptRefused):
        receiver.parse_receipts(body, {}, query)
