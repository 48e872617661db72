"""Alibaba Cloud SMS (阿里云短信服务): ``SendSms`` of the Dysmsapi RPC API,
signed as Alibaba's RPC signature mechanism (version 1.0) prescribes, and its
HTTP batch push of delivery reports (SmsReport) as receipts.

Alibaba sends only registered templates: the message's ``template`` is the
template code (``SMS_123456789``), its ``params`` the template's variables.
docs/channels-providers.md says where each setting is found in the console.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

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

API_VERSION = "2017-05-25"

# Codes that name the recipient: the number cannot receive SMS at all.
RECIPIENT_CODES = frozenset({"isv.MOBILE_NUMBER_ILLEGAL", "isv.PHONE_NUMBER_ILLEGAL"})

# Codes that pass: frequency limits (per number, per account, per API) and
# Alibaba's own hiccups. A later try may go through.
RETRYABLE_CODES = frozenset(
    {
        "isv.BUSINESS_LIMIT_CONTROL",
        "isv.DAY_LIMIT_CONTROL",
        "BUSINESS_LIMIT_CONTROL_MINUTE",
        "isv.BUSINESS_LIMIT_HOUR",
        "isv.BUSINESS_LIMIT_DAY",
        "Throttling",
        "Throttling.User",
        "Throttling.Api",
        "isp.SYSTEM_ERROR",
        "isp.GATEWAY_ERROR",
        "isp.UNKNOWN",
        "ServiceUnavailable",
        "InternalError",
        # A nonce is fresh on every attempt: the next one will not collide.
        "SignatureNonceUsed",
    }
)

# Codes that need an operator: what to fix, in words, so `lastError` and the
# campaign's counts say it without a trip to Alibaba's error-code page.
CONFIG_CODES = {
    "InvalidAccessKeyId.NotFound": "the AccessKey ID is unknown to Alibaba Cloud",
    "InvalidAccessKeyId.Inactive": "the AccessKey is disabled",
    "SignatureDoesNotMatch": "the AccessKey secret does not match the AccessKey ID",
    "InvalidTimeStamp.Expired": "this server's clock is more than 15 minutes off",
    "isp.RAM_PERMISSION_DENY": "the RAM user of the AccessKey may not send SMS",
    "Forbidden.RAM": "the RAM user of the AccessKey may not send SMS",
    "isv.SMS_SIGNATURE_ILLEGAL": "the sign name is not approved or does not exist",
    "isv.SMS_SIGN_ILLEGAL": "the sign name is not approved or does not exist",
    "isv.SMS_SIGNATURE_SCENE_ILLEGAL": "the sign name may not be used with this template",
    "isv.SMS_TEMPLATE_ILLEGAL": "the template code is not approved or does not exist",
    "isv.TEMPLATE_MISSING_PARAMETERS": "a variable of the template has no value",
    "isv.TEMPLATE_PARAMS_ILLEGAL": "a template variable's value breaks the template's rules",
    "isv.INVALID_JSON_PARAM": "the template parameters are not a JSON object of strings",
    "isv.PARAM_LENGTH_LIMIT": "a template variable's value is too long",
    "isv.PARAM_NOT_SUPPORT_URL": "a template variable holds a link; links belong in the template",
    "isv.BLACK_KEY_CONTROL_LIMIT": "a template variable holds a blocked keyword",
    "isv.AMOUNT_NOT_ENOUGH": "the account's balance is too low",
    "isv.OUT_OF_SERVICE": "the account is suspended (balance overdue)",
    "isv.PRODUCT_UN_SUBSCRIPT": "SMS is not activated on the account",
    "isv.PRODUCT_UNSUBSCRIBE": "SMS is not activated on the account",
    "isv.ACCOUNT_NOT_EXISTS": "the account does not exist",
    "isv.ACCOUNT_ABNORMAL": "the account is flagged abnormal",
    "isv.DENY_IP_RANGE": "Alibaba refuses requests from this server's IP region",
    "isv.SMS_TEST_NUMBER_LIMIT": "a test template only reaches the console's bound test numbers",
}

# What the callback endpoint answers a push with: Alibaba pushes a report
# again until it gets this.
RECEIPT_ACK = '{"code": 0, "msg": "接收成功"}'.encode()

# Report times are Beijing time, without an offset.
REPORT_TZ = ZoneInfo("Asia/Shanghai")


class AliyunSmsConfig(BaseModel):
    access_key_id: str = Field(min_length=1, description="AccessKey ID (RAM console)")
    access_key_secret: SecretStr = Field(description="AccessKey secret (RAM console)")
    sign_name: str = Field(
        min_length=1, description="Approved sign name (签名), shown as 【…】 in the SMS"
    )
    template_code: str | None = Field(
        None, description="Template code (SMS_…) used when a message names none"
    )
    endpoint: HttpUrl = Field(
        HttpUrl("https://dysmsapi.aliyuncs.com/"), description="Dysmsapi endpoint"
    )
    region_id: str = Field("cn-hangzhou", description="RegionId sent with each request")
    max_param_length: int = Field(
        35,
        ge=0,
        le=500,
        description="Longest value of one template variable Alibaba takes (0: no check)",
    )
    timeout_seconds: float = Field(10.0, gt=0, le=60, description="Per request")
    receipt_token: SecretStr | None = Field(
        None,
        description="Shared token that delivery-report pushes carry (?token= in the URL)",
    )


def percent_encode(value: str) -> str:
    """Alibaba's encoding: RFC 3986 unreserved characters stay, everything
    else is UTF-8 %XY in upper case; a space is %20, never +."""
    return quote(value, safe="~")


def sign(params: Mapping[str, str], secret: str, method: str = "POST") -> str:
    canonical = "&".join(
        f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items())
    )
    string_to_sign = f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class AliyunSms(ChannelSender):
    key = "aliyun_sms"
    title = "Alibaba Cloud SMS"
    description = (
        "Sends template SMS through Alibaba Cloud SMS (阿里云短信) and reads its delivery reports."
    )
    channel = "sms"
    Config = AliyunSmsConfig

    async def send(self, message: OutboundMessage) -> SendResult:
        config: AliyunSmsConfig = self.config  # type: ignore[assignment]
        template = message.template or config.template_code
        if not template:
            return SendResult.failed(
                "Alibaba Cloud SMS sends templates only: the message names no template "
                "code and the sender has no default template_code",
                retryable=False,
            )
        too_long = [
            name
            for name, value in message.params.items()
            if config.max_param_length and len(value) > config.max_param_length
        ]
        if too_long:
            return SendResult.failed(
                f"template variables longer than {config.max_param_length} characters: "
                + ", ".join(sorted(too_long)),
                retryable=False,
            )
        params = {
            "AccessKeyId": config.access_key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "PhoneNumbers": message.to,
            "RegionId": config.region_id,
            "SignName": config.sign_name,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "TemplateCode": template,
            "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": API_VERSION,
        }
        if message.params:
            params["TemplateParam"] = json.dumps(dict(message.params), ensure_ascii=False)
        if message.message_id:
            params["OutId"] = message.message_id
        params["Signature"] = sign(params, config.access_key_secret.get_secret_value())
        body = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in params.items())
        answer = await _http.call(
            "POST",
            str(config.endpoint),
            timeout=config.timeout_seconds,
            content=body.encode(),
            headers={"content-type": "application/x-www-form-urlencoded; charset=utf-8"},
        )
        if isinstance(answer, SendResult):
            return answer
        return self._result(answer.status_code, _http.json_or_none(answer), _http.excerpt(answer))

    @staticmethod
    def _result(status: int, payload: Any, text: str) -> SendResult:
        code = payload.get("Code") if isinstance(payload, dict) else None
        if not isinstance(code, str):
            return SendResult.failed(f"HTTP {status}: {text}", retryable=status >= 500)
        said = str(payload.get("Message") or "")
        if code == "OK":
            return SendResult.delivered(str(payload.get("BizId") or "") or None)
        if code in RECIPIENT_CODES:
            return SendResult.rejected(f"{code}: {said}")
        if code in RETRYABLE_CODES:
            return SendResult.failed(f"{code}: {said}", retryable=True)
        if code in CONFIG_CODES:
            return SendResult.failed(
                f"Alibaba Cloud SMS: {CONFIG_CODES[code]} ({code}: {said})", retryable=False
            )
        return SendResult.failed(f"{code}: {said}", retryable=status >= 500)

    def receipt_answer(self) -> tuple[bytes, str]:
        return RECEIPT_ACK, "application/json"

    def parse_receipts(
        self,
        body: bytes,
        headers: Mapping[str, str],
        query: Mapping[str, str] | None = None,
    ) -> list[Receipt]:
        # Alibaba signs nothing it pushes: the only proof is a secret in the
        # URL configured in its console, which only the account holder sets.
        config: AliyunSmsConfig = self.config  # type: ignore[assignment]
        if config.receipt_token is None:
            raise ReceiptRefused("aliyun_sms: set receipt_token to accept delivery reports")
        if not _http.shared_token_matches(config.receipt_token.get_secret_value(), headers, query):
            raise ReceiptRefused("aliyun_sms: the delivery report does not carry receipt_token")
        try:
            reports = json.loads(body)
        except ValueError as error:
            raise ReceiptRefused(f"aliyun_sms: not JSON: {error}") from error
        if not isinstance(reports, list) or not all(isinstance(r, dict) for r in reports):
            raise ReceiptRefused("aliyun_sms: a delivery report push is a JSON array of objects")
        return [_receipt(report) for report in reports]


def _receipt(report: Mapping[str, Any]) -> Receipt:
    success = report.get("success")
    if isinstance(success, str):  # some relays stringify booleans
        success = success.lower() == "true"
    code = str(report.get("err_code") or "")
    detail = " ".join(p for p in (code, str(report.get("err_msg") or "")) if p) or None
    return Receipt(
        status=ReceiptStatus.DELIVERED if success is True else ReceiptStatus.FAILED,
        provider_id=str(report["biz_id"]) if report.get("biz_id") else None,
        message_id=str(report["out_id"]) if report.get("out_id") else None,
        occurred_at=_report_time(report.get("report_time")),
        detail=detail,
    )


def _report_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        local = datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    return local.replace(tzinfo=REPORT_TZ).astimezone(UTC)
