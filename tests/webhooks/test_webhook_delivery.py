"""Webhook deliveries end to end: a real receiver on 127.0.0.1 gets signed,
schema-valid bodies after real changes; failures retry with growing delays
and disable the subscription; nothing is lost between commit and send."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest
from receiver_example import load as load_receiver

from tessera import runtime
from tessera.audit.models import AuditLogEntry
from tessera.config import Environment
from tessera.errors import DomainError
from tessera.orders.inputs import MemberRef, OrderInput
from tessera.orders.money import MoneyAmount
from tessera.outbox.models import OutboxEntry
from tessera.pipeline.orders import record_order
from tessera.scope import BrandScope
from tessera.uow import unit_of_work
from tessera.webhooks import service
from tessera.webhooks.events import json_schema
from tessera.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookSubscription

HERE = Path(__file__).parent
RECEIVER = load_receiver()


def order(member_id: int, external_id: str = "pos-1") -> OrderInput:
    return OrderInput(
        external_id=external_id,
        member=MemberRef(member_id=member_id),
        occurred_at=datetime(2026, 3, 1, 10, 30, tzinfo=UTC),
        amount_paid=MoneyAmount(Decimal("170.00"), "CNY"),
    )


async def member(new_member, brand, name="Ann"):
    return await new_member(brand, name=name, identities=[("app_user_id", name.lower())])


async def subscribe(brand, webhook_receiver, types=("order.recorded",)) -> service.WithSecret:
    return await service.create_subscription(BrandScope(brand), webhook_receiver.url, list(types))


async def test_a_recorded_order_reaches_the_receiver_signed_and_schema_valid(
    brand_a, new_member, webhook_receiver, drain_outbox, api_key, gql
):
    made = await subscribe(brand_a, webhook_receiver)
    ann = await member(new_member, brand_a)
    token = await api_key(brand_a, "write")
    body = await gql(
        "mutation($i: RecordOrderInput!) { recordOrder(input: $i) { order { id } errors { code } } }",
        {
            "i": {
                "externalId": "pos-1",
                "memberId": ann.id,
                "occurredAt": "2026-03-01T18:30:00+08:00",
                "amountPaid": {"amount": "170.00", "currency": "CNY"},
            }
        },
        token=token,
    )
    assert body["recordOrder"]["errors"] == []
    await drain_outbox()

    [got] = webhook_receiver.received  # the member.joined before is not subscribed to
    event = RECEIVER.verify([made.secret], got.headers, got.body)
    assert event["type"] == "order.recorded" and event["brand"] == brand_a.code
    assert event["data"]["member_id"] == ann.pk and event["data"]["amount_paid"] == 17000
    jsonschema.validate(event, json_schema("order.recorded"))
    delivery = await WebhookDelivery.get(brand_id=brand_a.id)
    assert got.headers["tessera-webhook-id"] == event["id"] == str(delivery.delivery_id)
    assert (delivery.status, delivery.attempts, delivery.last_response_code) == (
        DeliveryStatus.DELIVERED,
        1,
        200,
    )
    with pytest.raises(ValueError, match="no valid signature"):
        RECEIVER.verify(["whsec_wrong"], got.headers, got.body)
    with pytest.raises(ValueError, match="replay window"):
        RECEIVER.verify([made.secret], got.headers, got.body, now=1e10)


async def test_every_event_type_sent_matches_its_schema(
    brand_a, new_member, webhook_receiver, drain_outbox
):
    await subscribe(brand_a, webhook_receiver, ["*"])
    ann = await member(new_member, brand_a)
    await record_order(BrandScope(brand_a), order(ann.pk))
    await drain_outbox()
    types = set()
    for got in webhook_receiver.received:
        event = json.loads(got.body)
        jsonschema.validate(event, json_schema(event["type"]))
        types.add(event["type"])
    assert {"member.joined", "order.recorded"} <= types


async def test_both_secrets_verify_during_a_rotation_and_only_the_new_one_after(
    brand_a, new_member, webhook_receiver, drain_outbox
):
    scope = BrandScope(brand_a)
    old = await subscribe(brand_a, webhook_receiver, ["member.joined"])
    new = await service.rotate_secret(scope, old.subscription.id, timedelta(hours=1))
    assert new.secret != old.secret
    await member(new_member, brand_a, "Ann")
    await drain_outbox()
    [during] = webhook_receiver.received
    assert during.headers["tessera-webhook-signature"].count("v1=") == 2
    for secret in (old.secret, new.secret):
        RECEIVER.verify([secret], during.headers, during.body)

    # Rotated again without overlap (a leak): only the newest secret signs.
    newest = await service.rotate_secret(scope, old.subscription.id, timedelta(0))
    await member(new_member, brand_a, "Bob")
    await drain_outbox()
    after = webhook_receiver.received[1]
    assert after.headers["tessera-webhook-signature"].count("v1=") == 1
    RECEIVER.verify([newest.secret], after.headers, after.body)
    for stale in (old.secret, new.secret):
        with pytest.raises(ValueError):
            RECEIVER.verify([stale], after.headers, after.body)


async def _due_now() -> None:
    """Time passes: every waiting attempt becomes due."""
    past = datetime.now(UTC) - timedelta(seconds=1)
    await OutboxEntry.filter(done_at__isnull=True).update(available_at=past)


async def test_a_failing_receiver_gets_retries_with_growing_delays_then_is_disabled(
    brand_a, new_member, webhook_receiver, drain_outbox, monkeypatch
):
    settings = runtime.current().settings
    monkeypatch.setattr(settings, "webhook_disable_after", 5)
    webhook_receiver.status = 500
    made = await subscribe(brand_a, webhook_receiver, ["member.joined"])
    await member(new_member, brand_a)
    relay = runtime.current().outbox

    delays = []
    await relay.drain()  # due work only: the fan-out and the first attempt
    for _ in range(10):
        delivery = await WebhookDelivery.get(brand_id=brand_a.id)
        if delivery.next_attempt_at is None:
            break
        delays.append((delivery.next_attempt_at - delivery.last_attempt_at).total_seconds())
        assert await relay.drain() == 0  # the retry waits for its time
        await _due_now()
        await relay.drain()

    assert len(webhook_receiver.received) == 5
    assert len({r.headers["tessera-webhook-id"] for r in webhook_receiver.received}) == 1
    assert len(delays) == 4 and delays == sorted(delays) and delays[-1] > delays[0]
    for n, delay in enumerate(delays, start=1):  # base x 2^(n-1), times 50-100 %
        ceiling = settings.webhook_retry_base_s * 2 ** (n - 1)
        assert ceiling / 2 <= delay <= ceiling
    delivery = await WebhookDelivery.get(brand_id=brand_a.id)
    assert (delivery.status, delivery.attempts, delivery.last_response_code) == (
        DeliveryStatus.DEAD,
        5,
        500,
    )
    hook = await WebhookSubscription.get(id=made.subscription.id)
    assert not hook.active and hook.disabled_at is not None
    assert hook.disabled_reason.startswith("5 failed attempts in a row; last: HTTP 500")
    notice = await AuditLogEntry.get(brand_id=brand_a.id, action="webhookSubscriptionDisabled")
    assert notice.details["id"] == hook.id

    # Disabled: new events make no deliveries; enabling and replaying sends again.
    await member(new_member, brand_a, "Bob")
    await drain_outbox()
    assert await WebhookDelivery.filter(brand_id=brand_a.id).count() == 1
    webhook_receiver.status = 204
    scope = BrandScope(brand_a)
    with pytest.raises(DomainError) as refused:
        await service.replay_delivery(scope, delivery.id)
    assert refused.value.code == "SUBSCRIPTION_DISABLED"
    await service.update_subscription(scope, hook.id, active=True)
    await service.replay_delivery(scope, delivery.id)
    await drain_outbox()
    replayed = await WebhookDelivery.get(id=delivery.id)
    assert (replayed.status, replayed.attempts, replayed.last_response_code) == (
        DeliveryStatus.DELIVERED,
        1,
        204,
    )
    assert webhook_receiver.received[-1].headers["tessera-webhook-id"] == str(delivery.delivery_id)
    assert (await WebhookSubscription.get(id=hook.id)).consecutive_failures == 0


async def test_a_delivery_fails_after_its_attempts_without_disabling_a_subscription(
    brand_a, new_member, webhook_receiver, drain_outbox, monkeypatch
):
    monkeypatch.setattr(runtime.current().settings, "webhook_max_attempts", 3)
    webhook_receiver.status = 503
    made = await subscribe(brand_a, webhook_receiver, ["member.joined"])
    await member(new_member, brand_a)
    await drain_outbox()  # retries included, without waiting for them
    delivery = await WebhookDelivery.get(brand_id=brand_a.id)
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (
        DeliveryStatus.FAILED,
        3,
        None,
    )
    assert "HTTP 503" in delivery.last_error
    hook = await WebhookSubscription.get(id=made.subscription.id)
    assert hook.active and hook.consecutive_failures == 3


# Nothing lost between commit and send


async def test_a_rolled_back_change_sends_nothing(
    brand_a, new_member, webhook_receiver, drain_outbox
):
    await subscribe(brand_a, webhook_receiver, ["*"])
    scope = BrandScope(brand_a)
    with pytest.raises(RuntimeError):
        async with unit_of_work(scope) as uow:
            uow.emit("order.recorded", order_id=1, member_id=1)
            raise RuntimeError("the change fails after emitting")
    assert not await OutboxEntry.filter(kind="webhooks_fanout").exists()
    await drain_outbox()
    assert webhook_receiver.received == []
    assert not await WebhookDelivery.exists()


async def test_the_deliveries_are_written_in_the_changes_transaction_and_sent_after(
    brand_a, new_member, webhook_receiver, drain_outbox
):
    await subscribe(brand_a, webhook_receiver, ["order.recorded"])
    ann = await member(new_member, brand_a)
    await drain_outbox()
    await record_order(BrandScope(brand_a), order(ann.pk))
    # Committed, not yet relayed: the events wait in the outbox.
    [entry] = await OutboxEntry.filter(kind="webhooks_fanout", done_at__isnull=True)
    assert [e["type"] for e in entry.payload["args"][1]] == ["order.recorded"]
    assert webhook_receiver.received == []
    await drain_outbox()
    [got] = webhook_receiver.received
    assert json.loads(got.body)["type"] == "order.recorded"


def _child_env(database_url: str, var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    env.update(
        TESSERA_DATABASE_URL=database_url,
        TESSERA_VAR_DIR=str(var_dir),
        TESSERA_ENVIRONMENT="test",
        TESSERA_SECRET_KEY=runtime.current().settings.secret(),
        TESSERA_WEBHOOK_ALLOW_PRIVATE_NETWORKS="true",
    )
    return env


async def _run_child(script: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-P", str(HERE / script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_a_process_killed_after_the_commit_still_delivers(
    brand_a, webhook_receiver, drain_outbox, tessera_database_url, tmp_path
):
    await subscribe(brand_a, webhook_receiver, ["member.joined"])
    env = _child_env(tessera_database_url, tmp_path)
    child = await _run_child("../platform/jobs/crash_after_commit.py", str(brand_a.id), env=env)
    assert child.returncode == -9, child.stdout + child.stderr  # SIGKILL, after the commit
    assert webhook_receiver.received == []
    await drain_outbox()  # a fresh relay (this process) finds the events
    [got] = webhook_receiver.received
    assert json.loads(got.body)["type"] == "member.joined"


async def test_a_process_killed_after_sending_redelivers_with_the_same_id(
    brand_a, new_member, webhook_receiver, drain_outbox, tessera_database_url, tmp_path
):
    await subscribe(brand_a, webhook_receiver, ["member.joined"])
    await member(new_member, brand_a)
    env = _child_env(tessera_database_url, tmp_path)
    child = await _run_child("crash_after_send.py", env=env)
    assert child.returncode == -9, child.stdout + child.stderr  # killed after the POST
    [first] = webhook_receiver.received
    delivery = await WebhookDelivery.get(brand_id=brand_a.id)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 0)

    await _due_now()  # the dead worker's lease runs out
    await drain_outbox()
    second = webhook_receiver.received[1]
    assert second.headers["tessera-webhook-id"] == first.headers["tessera-webhook-id"]
    assert second.body == first.body
    delivery = await WebhookDelivery.get(id=delivery.id)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 1)


async def test_a_fan_out_run_twice_makes_each_delivery_once(
    brand_a, new_member, webhook_receiver, drain_outbox
):
    from tessera.webhooks.triggers import webhooks_fanout

    await subscribe(brand_a, webhook_receiver, ["member.joined"])
    await member(new_member, brand_a)
    [entry] = await OutboxEntry.filter(kind="webhooks_fanout")
    await drain_outbox()
    # The relay runs the same entry again (a lease ran out while it worked).
    await webhooks_fanout({}, *entry.payload["args"])
    await drain_outbox()
    assert await WebhookDelivery.filter(brand_id=brand_a.id).count() == 1
    assert len(webhook_receiver.received) == 1


# SSRF guard


async def test_private_addresses_and_plain_http_are_refused_outside_development(
    brand_a, webhook_receiver, monkeypatch
):
    settings = runtime.current().settings
    scope = BrandScope(brand_a)
    monkeypatch.setattr(settings, "webhook_allow_private_networks", None)  # test env: refused
    for url in (
        webhook_receiver.url,
        "http://localhost:8080/x",
        "http://10.1.2.3/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x",
        "http://[::ffff:127.0.0.1]/x",
    ):
        with pytest.raises(DomainError) as refused:
            await service.create_subscription(scope, url, ["*"])
        assert (refused.value.code, refused.value.field) == ("PRIVATE_ADDRESS", ["url"]), url
    for url in ("ftp://example.com/x", "http://[::1/x", "http://example.com:port/x", "/x"):
        with pytest.raises(DomainError) as bad:
            await service.create_subscription(scope, url, ["*"])
        assert (bad.value.code, bad.value.field) == ("INVALID", ["url"]), url
    monkeypatch.setattr(settings, "environment", Environment.PRODUCTION)
    with pytest.raises(DomainError) as insecure:
        await service.create_subscription(scope, "http://93.184.215.14/x", ["*"])
    assert insecure.value.code == "INSECURE_URL"
    monkeypatch.setattr(settings, "environment", Environment.DEVELOPMENT)
    assert (await service.create_subscription(scope, webhook_receiver.url, ["*"])).secret
    assert await WebhookSubscription.filter(brand_id=brand_a.id).count() == 1


async def test_an_attempt_to_an_address_that_became_private_is_refused_unsent(
    brand_a, new_member, webhook_receiver, drain_outbox, monkeypatch
):
    await subscribe(brand_a, webhook_receiver, ["member.joined"])
    monkeypatch.setattr(runtime.current().settings, "webhook_allow_private_networks", False)
    monkeypatch.setattr(runtime.current().settings, "webhook_max_attempts", 1)
    await member(new_member, brand_a)
    await drain_outbox()
    assert webhook_receiver.received == []
    delivery = await WebhookDelivery.get(brand_id=brand_a.id)
    assert delivery.status is DeliveryStatus.FAILED and delivery.last_response_code is None
    assert "private, loopback or link-local" in delivery.last_error


async def test_a_brands_events_reach_only_its_own_subscriptions(
    brand_a, brand_b, new_member, webhook_receiver, drain_outbox
):
    await subscribe(brand_a, webhook_receiver, ["member.joined"])
    await member(new_member, brand_b, "Bea")
    await drain_outbox()
    assert webhook_receiver.received == []
    assert not await WebhookDelivery.exists()
    await member(new_member, brand_a, "Ann")
    await drain_outbox()
    [got] = webhook_receiver.received
    assert json.loads(got.body)["brand"] == brand_a.code


async def test_a_delivery_waiting_for_its_attempt_is_not_replayed(
    brand_a, new_member, webhook_receiver
):
    await subscribe(brand_a, webhook_receiver, ["member.joined"])
    await member(new_member, brand_a)
    relay = runtime.current().outbox
    await relay.relay_once()  # the fan-out only: the first attempt waits
    delivery = await WebhookDelivery.get(brand_id=brand_a.id)
    with pytest.raises(DomainError) as refused:
        await service.replay_delivery(BrandScope(brand_a), delivery.id)
    assert (refused.value.code, refused.value.field) == ("DELIVERY_PENDING", ["id"])


async def test_disabling_a_subscription_abandons_its_waiting_retries(
    brand_a, new_member, webhook_receiver, drain_outbox
):
    webhook_receiver.status = 502
    made = await subscribe(brand_a, webhook_receiver, ["member.joined"])
    await member(new_member, brand_a)
    await runtime.current().outbox.drain()  # the first attempt fails; a retry waits
    waiting = await WebhookDelivery.get(brand_id=brand_a.id)
    assert waiting.status is DeliveryStatus.PENDING and waiting.next_attempt_at is not None

    await service.update_subscription(BrandScope(brand_a), made.subscription.id, active=False)
    dead = await WebhookDelivery.get(id=waiting.id)
    assert (dead.status, dead.next_attempt_at) == (DeliveryStatus.DEAD, None)
    await drain_outbox()  # the queued retry finds nothing to do
    assert len(webhook_receiver.received) == 1
    hook = await WebhookSubscription.get(id=made.subscription.id)
    assert hook.disabled_reason.startswith("disabled by system")
