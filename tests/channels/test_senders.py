"""The built-in senders against real local servers: what reaches the wire,
and how each provider answer maps to delivered, failed (retryable or not) or
rejected."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from pydantic import SecretStr

from tessera import OutboundMessage, ReceiptRefused, ReceiptStatus, SendStatus
from tessera.plugins.channels.email_smtp import SmtpEmailSender
from tessera.plugins.channels.sms_http import HttpSmsSender

MAIL = OutboundMessage(
    to="ann@example.com",
    subject="Welcome, Ann",
    body="Hello Ann",
    html="<p>Hello <b>Ann</b></p>",
    message_id="m-1",
    data={"unsubscribe_url": "https://crm.example/u/tok"},
)


def smtp(config: dict[str, Any]) -> SmtpEmailSender:
    return SmtpEmailSender(SmtpEmailSender.Config.model_validate(config))


async def test_email_goes_out_as_text_and_html_with_one_click_unsubscribe(smtp_server: Any) -> None:
    sender = smtp(smtp_server.config(from_name="Brand Care", reply_to="help@brand.example"))
    result = await sender.send(MAIL)
    assert result.status is SendStatus.DELIVERED and result.provider_id
    [mail] = smtp_server.messages
    assert smtp_server.envelopes == [("care@brand.example", ["ann@example.com"])]
    assert mail["From"] == "Brand Care <care@brand.example>"
    assert mail["Reply-To"] == "help@brand.example"
    assert mail["Subject"] == "Welcome, Ann"
    assert mail["List-Unsubscribe"] == "<https://crm.example/u/tok>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "m-1" in mail["Message-ID"]
    parts = {
        p.get_content_type(): p.get_payload(decode=True).decode()
        for p in mail.walk()
        if not p.is_multipart()
    }
    assert parts["text/plain"].strip() == "Hello Ann"
    assert parts["text/html"].strip() == "<p>Hello <b>Ann</b></p>"


async def test_email_logs_in_over_starttls_and_tls(smtp_tls_server: tuple[str, Any]) -> None:
    mode, box = smtp_tls_server
    sender = smtp(
        box.config(security=mode, username=box.user, password=box.password, verify_tls=False)
    )
    result = await sender.send(MAIL)
    assert result.status is SendStatus.DELIVERED, result.error
    assert len(box.messages) == 1


async def test_email_wrong_password_is_a_final_failure(smtp_server: Any) -> None:
    sender = smtp(smtp_server.config(username=smtp_server.user, password="wrong"))
    result = await sender.send(MAIL)
    assert result.status is SendStatus.FAILED and not result.retryable
    assert "login" in (result.error or "")
    assert smtp_server.messages == []


async def test_email_unknown_mailbox_is_rejected_and_a_full_one_retried(smtp_server: Any) -> None:
    smtp_server.refuse = {
        "ann@example.com": "550 5.1.1 no such user",
        "bob@example.com": "452 4.2.2 mailbox full",
    }
    sender = smtp(smtp_server.config())
    rejected = await sender.send(MAIL)
    assert rejected.status is SendStatus.REJECTED and "550" in (rejected.error or "")
    full = await sender.send(OutboundMessage(to="bob@example.com", body="x", subject="x"))
    assert full.status is SendStatus.FAILED and full.retryable


async def test_email_server_down_is_retryable(smtp_server: Any) -> None:
    sender = smtp(smtp_server.config(port=1, timeout_s=2))
    result = await sender.send(MAIL)
    assert result.status is SendStatus.FAILED and result.retryable


def sms(gateway: Any, **extra: Any) -> HttpSmsSender:
    config = {"url": gateway.url, "auth_value": "Bearer k-1", "status_field": "status", **extra}
    return HttpSmsSender(HttpSmsSender.Config.model_validate(config))


TEXT = OutboundMessage(to="+8613800000001", body="您好 Ann", message_id="m-2")


async def test_sms_posts_the_configured_body_and_reads_the_answer(
    tessera_runtime: Any, sms_gateway: Any
) -> None:
    sender = sms(
        sms_gateway,
        body_template={
            "mobile": "{to}",
            "content": "{text}",
            "ref": "{message_id}",
            "sign": "Brand",
        },
    )
    sms_gateway.answers = [(200, {"status": "ok", "id": "gw-77"})]
    result = await sender.send(TEXT)
    assert result.status is SendStatus.DELIVERED and result.provider_id == "gw-77"
    [(path, headers, body)] = sms_gateway.received
    assert headers["authorization"] == "Bearer k-1"
    assert body == {
        "mobile": "+8613800000001",
        "content": "您好 Ann",
        "ref": "m-2",
        "sign": "Brand",
    }


@pytest.mark.parametrize(
    ("answer", "status", "retryable"),
    [
        ((503, {}), SendStatus.FAILED, True),
        ((429, {}), SendStatus.FAILED, True),
        ((400, {"error": "bad number"}), SendStatus.FAILED, False),
        ((200, {"status": "blacklisted"}), SendStatus.REJECTED, False),
        ((200, {"status": "weird"}), SendStatus.FAILED, False),
    ],
)
async def test_sms_answers_map_to_results(
    tessera_runtime: Any,
    sms_gateway: Any,
    answer: tuple[int, Any],
    status: SendStatus,
    retryable: bool,
) -> None:
    sms_gateway.answers = [answer]
    result = await sms(sms_gateway, rejected_values=["blacklisted"]).send(TEXT)
    assert (result.status, result.retryable) == (status, retryable)


async def test_sms_gateway_unreachable_is_retryable(tessera_runtime: Any) -> None:
    sender = HttpSmsSender(HttpSmsSender.Config(url="http://127.0.0.1:1/sms", timeout_s=2))
    result = await sender.send(TEXT)
    assert result.status is SendStatus.FAILED and result.retryable


def test_sms_receipts_verify_the_signature() -> None:
    sender = HttpSmsSender(HttpSmsSender.Config(url="http://x", receipt_secret=SecretStr("rk")))
    body = json.dumps(
        [
            {"id": "gw-1", "status": "delivered"},
            {"id": "gw-2", "status": "unsubscribed"},
            {"id": "gw-3", "status": "queued"},
        ]
    ).encode()
    good = hmac.new(b"rk", body, hashlib.sha256).hexdigest()
    receipts = sender.parse_receipts(body, {"X-Signature": good})
    assert [(r.provider_id, r.status) for r in receipts] == [
        ("gw-1", ReceiptStatus.DELIVERED),
        ("gw-2", ReceiptStatus.UNSUBSCRIBED),
    ]
    with pytest.raises(ReceiptRefused):
        sender.parse_receipts(body, {"X-Signature": "0" * 64})
    with pytest.raises(ReceiptRefused):
        HttpSmsSender(HttpSmsSender.Config(url="http://x")).parse_receipts(body, {})


def test_secrets_are_write_only_fields() -> None:
    assert SmtpEmailSender.secret_fields() == {"password"}
    assert HttpSmsSender.secret_fields() == {"auth_value", "receipt_secret"}
