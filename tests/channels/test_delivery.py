"""The gate's decisions, delivery over a real SMTP server and a real HTTP
gateway, retries and giving up, receipts' effects, triggered welcome mail."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from tessera.channels import gate, service
from tessera.channels.delivery import MAX_ATTEMPTS
from tessera.channels.models import (
    Channel,
    DoNotContactReason,
    Message,
    MessageStatus,
    Purpose,
)
from tessera.features.models import BrandFeature
from tessera.outbox.models import OutboxEntry
from tessera.scope import BrandScope

WELCOME = "Welcome {{ member.name }}, you have {{ points }} points. Leave: {{ links.unsubscribe }}"


async def email_template(scope: BrandScope, name: str = "welcome") -> Any:
    return await service.create_template(
        scope,
        name=name,
        channel=Channel.EMAIL,
        subject="Hi {{ member.name }}",
        body=WELCOME,
        html="<p>Welcome <b>{{ member.name }}</b></p>",
    )


@pytest.fixture
async def mail_brand(brand_a: Any, enable_feature: Any, smtp_server: Any) -> Any:
    await enable_feature(brand_a, "email_smtp", config=smtp_server.config())
    return brand_a


async def send(
    scope: BrandScope,
    member_id: int,
    template_id: int,
    purpose: Purpose = Purpose.TRANSACTIONAL,
    key: str | None = None,
    **kw: Any,
) -> Message:
    return await gate.send(
        scope, gate.SendRequest(member_id, template_id, purpose, "test", key, **kw)
    )


async def test_a_transactional_email_goes_out_rendered(
    mail_brand: Any, new_member: Any, smtp_server: Any, drain_outbox: Any
) -> None:
    scope = BrandScope(mail_brand)
    member = await new_member(mail_brand, name="Ann", email="ann@example.com")
    template = await email_template(scope)
    message = await send(scope, member.pk, template.id)
    assert message.status is MessageStatus.QUEUED
    await drain_outbox()
    [mail] = smtp_server.messages
    assert mail["Subject"] == "Hi Ann" and mail["To"] == "ann@example.com"
    text = (
        next(p for p in mail.walk() if p.get_content_type() == "text/plain")
        .get_payload(decode=True)
        .decode()
    )
    assert "Welcome Ann, you have 0 points." in text and "/channels/unsubscribe/" in text
    stored = await scope.get(Message, message.id)
    assert (
        stored.status is MessageStatus.SENT
        and stored.provider == "email_smtp"
        and stored.attempts == 1
    )
    # Transactional mail carries no unsubscribe header; marketing does.
    assert mail["List-Unsubscribe"] is None


async def test_the_idempotency_key_sends_once(
    mail_brand: Any, new_member: Any, smtp_server: Any, drain_outbox: Any
) -> None:
    scope = BrandScope(mail_brand)
    member = await new_member(mail_brand, name="Ann", email="ann@example.com")
    template = await email_template(scope)
    first = await send(scope, member.pk, template.id, key="order-1")
    again = await send(scope, member.pk, template.id, key="order-1")
    assert first.id == again.id
    await drain_outbox()
    assert len(smtp_server.messages) == 1


async def test_marketing_needs_consent_and_do_not_contact_holds_everything(
    mail_brand: Any, new_member: Any, smtp_server: Any, drain_outbox: Any
) -> None:
    scope = BrandScope(mail_brand)
    member = await new_member(mail_brand, name="Ann", email="ann@example.com")
    template = await email_template(scope)
    held = await send(scope, member.pk, template.id, Purpose.MARKETING)
    assert (held.status, held.reason) == (MessageStatus.HELD, "no_consent")
    await service.set_consent(scope, member.pk, Channel.EMAIL, Purpose.MARKETING, True, "api")
    assert (
        await send(scope, member.pk, template.id, Purpose.MARKETING)
    ).status is MessageStatus.QUEUED
    await service.add_do_not_contact(scope, member.pk, Channel.EMAIL, DoNotContactReason.COMPLAINT)
    for purpose in Purpose:
        blocked = await send(scope, member.pk, template.id, purpose)
        assert (blocked.status, blocked.reason) == (MessageStatus.HELD, "do_not_contact:complaint")
    no_mail = await new_member(mail_brand, name="Bob", phone="+8613800000009")
    assert (await send(scope, no_mail.pk, template.id)).reason == "no_address"
    await drain_outbox()
    assert len(smtp_server.messages) == 1


async def test_caps_hold_marketing_beyond_the_limit(mail_brand: Any, new_member: Any) -> None:
    scope = BrandScope(mail_brand)
    member = await new_member(mail_brand, name="Ann", email="ann@example.com")
    template = await email_template(scope)
    await service.set_consent(scope, member.pk, Channel.EMAIL, Purpose.MARKETING, True, "api")
    await service.set_contact_rules(
        scope,
        quiet_start=None,
        quiet_end=None,
        caps=[service.Cap("email", 2, 24), service.Cap("*", 3, 168)],
    )
    results = [await send(scope, member.pk, template.id, Purpose.MARKETING) for _ in range(3)]
    assert [m.status for m in results] == [
        MessageStatus.QUEUED,
        MessageStatus.QUEUED,
        MessageStatus.HELD,
    ]
    assert results[2].reason == "frequency_cap:email:2/24h"
    # Transactional messages are neither capped nor counted.
    assert (await send(scope, member.pk, template.id)).status is MessageStatus.QUEUED


async def test_quiet_hours_defer_marketing_to_their_end(
    mail_brand: Any, new_member: Any, smtp_server: Any, drain_outbox: Any
) -> None:
    scope = BrandScope(mail_brand)  # Asia/Shanghai, UTC+8
    member = await new_member(mail_brand, name="Ann", email="ann@example.com")
    template = await email_template(scope)
    await service.set_consent(scope, member.pk, Channel.EMAIL, Purpose.MARKETING, True, "api")
    await service.set_contact_rules(scope, quiet_start=time(21, 0), quiet_end=time(8, 0), caps=[])
    late = datetime(2026, 3, 1, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai
    async with gate.unit_of_work(scope) as uow:
        message = await gate.submit(
            uow, gate.SendRequest(member.pk, template.id, Purpose.MARKETING, "test"), late
        )
    assert message.status is MessageStatus.DEFERRED and message.reason == "quiet_hours"
    assert message.send_after == datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # 08:00 next morning
    entry = await OutboxEntry.filter(kind="channels_send").get()
    assert entry.available_at > datetime.now(UTC)  # really waiting, not dropped
    await drain_outbox()  # runs it early, as the end of the quiet hours would
    assert (await scope.get(Message, message.id)).status is MessageStatus.SENT


def test_quiet_hours_arithmetic() -> None:
    rules = type("R", (), {"quiet_start": time(21, 0), "quiet_end": time(8, 0)})()
    tz = "Asia/Shanghai"
    assert gate.quiet_until(rules, tz, datetime(2026, 3, 1, 12, 0, tzinfo=UTC)) is None  # 20:00
    assert gate.quiet_until(rules, tz, datetime(2026, 3, 1, 13, 0, tzinfo=UTC)) == datetime(
        2026, 3, 2, 0, 0, tzinfo=UTC
    )
    assert gate.quiet_until(rules, tz, datetime(2026, 3, 1, 22, 0, tzinfo=UTC)) == datetime(
        2026, 3, 2, 0, 0, tzinfo=UTC
    )  # 06:00
    day = type("R", (), {"quiet_start": time(12, 0), "quiet_end": time(14, 0)})()
    assert gate.quiet_until(day, tz, datetime(2026, 3, 1, 5, 0, tzinfo=UTC)) == datetime(
        2026, 3, 1, 6, 0, tzinfo=UTC
    )


async def test_retryable_failures_back_off_then_give_up_with_the_reason(
    brand_a: Any, enable_feature: Any, new_member: Any, sms_gateway: Any, drain_outbox: Any
) -> None:
    scope = BrandScope(brand_a)
    await enable_feature(brand_a, "sms_http", config={"url": sms_gateway.url})
    member = await new_member(brand_a, name="Ann", phone="+8613800000001")
    template = await service.create_template(
        scope, name="code", channel=Channel.SMS, body="Code for {{ member.name }}"
    )
    sms_gateway.answers = [(503, {"error": "busy"})]
    message = await send(scope, member.pk, template.id)
    await drain_outbox()
    stored = await scope.get(Message, message.id)
    assert stored.status is MessageStatus.FAILED and stored.attempts == MAX_ATTEMPTS
    assert stored.reason == f"after {MAX_ATTEMPTS} attempt(s): HTTP 503"
    assert len(sms_gateway.received) == MAX_ATTEMPTS
    feature = await scope.query(BrandFeature).get(component_key="sms_http")
    assert feature.last_error == "HTTP 503"


async def test_a_retry_that_succeeds_ends_sent(
    brand_a: Any, enable_feature: Any, new_member: Any, sms_gateway: Any, drain_outbox: Any
) -> None:
    scope = BrandScope(brand_a)
    await enable_feature(
        brand_a, "sms_http", config={"url": sms_gateway.url, "status_field": "status"}
    )
    member = await new_member(brand_a, name="Ann", phone="+8613800000001")
    template = await service.create_template(
        scope, name="code", channel=Channel.SMS, body="Hi {{ member.name }}"
    )
    sms_gateway.answers = [
        (503, {}),
        (200, {"status": "ok", "id": "gw-9"}),
        (200, {"status": "ok", "id": "gw-9"}),
    ]
    message = await send(scope, member.pk, template.id)
    queued = await OutboxEntry.filter(kind="channels_send_priority").count()
    assert queued == 1  # transactional: its own lane
    await drain_outbox()
    stored = await scope.get(Message, message.id)
    assert (stored.status, stored.attempts, stored.provider_id) == (MessageStatus.SENT, 2, "gw-9")
    assert sms_gateway.received[0][2] == {
        "to": "+8613800000001",
        "text": "Hi Ann",
        "reference": str(message.id),
    }


async def test_a_rejected_recipient_becomes_do_not_contact(
    brand_a: Any, enable_feature: Any, new_member: Any, sms_gateway: Any, drain_outbox: Any
) -> None:
    scope = BrandScope(brand_a)
    await enable_feature(
        brand_a,
        "sms_http",
        config={"url": sms_gateway.url, "status_field": "status", "rejected_values": ["blocked"]},
    )
    member = await new_member(brand_a, name="Ann", phone="+8613800000001")
    template = await service.create_template(scope, name="code", channel=Channel.SMS, body="Hi")
    sms_gateway.answers = [(200, {"status": "blocked"})]
    message = await send(scope, member.pk, template.id)
    await drain_outbox()
    assert (await scope.get(Message, message.id)).status is MessageStatus.REJECTED
    [dnc] = await service.do_not_contact(scope, member.pk)
    assert (dnc.channel, dnc.reason) == (Channel.SMS, DoNotContactReason.PROVIDER_REJECTED)
    assert (await send(scope, member.pk, template.id)).reason == "do_not_contact:provider_rejected"


async def test_without_a_sender_the_message_fails_visibly(
    brand_a: Any, new_member: Any, drain_outbox: Any
) -> None:
    scope = BrandScope(brand_a)
    member = await new_member(brand_a, name="Ann", email="ann@example.com")
    template = await email_template(scope)
    message = await send(scope, member.pk, template.id)
    await drain_outbox()
    stored = await scope.get(Message, message.id)
    assert stored.status is MessageStatus.FAILED and "no email sender" in stored.reason


async def test_a_wrong_smtp_password_shows_on_the_feature(
    brand_a: Any, enable_feature: Any, new_member: Any, smtp_server: Any, drain_outbox: Any
) -> None:
    scope = BrandScope(brand_a)
    await enable_feature(
        brand_a, "email_smtp", config=smtp_server.config(username=smtp_server.user, password="nope")
    )
    member = await new_member(brand_a, name="Ann", email="ann@example.com")
    message = await send(scope, member.pk, (await email_template(scope)).id)
    await drain_outbox()
    stored = await scope.get(Message, message.id)
    assert stored.status is MessageStatus.FAILED and "login refused" in stored.reason
    feature = await scope.query(BrandFeature).get(component_key="email_smtp")
    assert "login refused" in feature.last_error


async def test_welcome_email_is_triggered_by_joining(
    mail_brand: Any, new_member: Any, smtp_server: Any, drain_outbox: Any
) -> None:
    scope = BrandScope(mail_brand)
    template = await email_template(scope)
    await service.create_trigger_rule(
        scope,
        event="member.joined",
        template_id=template.id,
        purpose=Purpose.TRANSACTIONAL,
        delay_minutes=5,
    )
    member = await new_member(mail_brand, name="Cai", email="cai@example.com")
    assert await OutboxEntry.filter(kind="channels_trigger").count() == 1
    await drain_outbox()
    [message] = await scope.query(Message).filter(member_id=member.pk)
    assert message.source == "trigger:member.joined" and message.status is MessageStatus.SENT
    assert message.send_after > message.created_at + timedelta(minutes=4)
    [mail] = smtp_server.messages
    assert mail["To"] == "cai@example.com" and mail["Subject"] == "Hi Cai"
    # The trigger job run again (a replayed entry) finds the same message.
    from tessera.channels.triggers import channels_trigger

    entry = await OutboxEntry.filter(kind="channels_trigger").get()
    await channels_trigger({}, *entry.payload["args"])
    assert await scope.query(Message).filter(member_id=member.pk).count() == 1


async def test_birthday_messages_go_once_a_year_from_nine_brand_time(
    mail_brand: Any, new_member: Any, smtp_server: Any, drain_outbox: Any
) -> None:
    from datetime import date

    from tessera.channels.triggers import channels_birthdays

    scope = BrandScope(mail_brand)  # Asia/Shanghai
    template = await email_template(scope, "birthday")
    await service.create_trigger_rule(
        scope, event="birthday", template_id=template.id, purpose=Purpose.TRANSACTIONAL
    )
    today = await new_member(
        mail_brand, name="Bo", email="bo@example.com", birthday=date(1990, 6, 1)
    )
    await new_member(mail_brand, name="Cy", email="cy@example.com", birthday=date(1990, 6, 2))
    early = datetime(2026, 5, 31, 23, 30, tzinfo=UTC)  # 07:30 on 1 June in Shanghai
    assert await channels_birthdays({}, early) == 0
    later = datetime(2026, 6, 1, 1, 30, tzinfo=UTC)  # 09:30
    assert await channels_birthdays({}, later) == 1
    await channels_birthdays({}, later + timedelta(hours=1))  # the next hourly run
    await drain_outbox()
    [message] = await scope.query(Message).filter(source="trigger:birthday")
    assert message.member_id == today.pk and message.status is MessageStatus.SENT
    assert [m["To"] for m in smtp_server.messages] == ["bo@example.com"]
