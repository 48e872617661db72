"""Sending one delivery: the ``webhooks_send`` job.

Each attempt POSTs the delivery's body, signed, and records the outcome in
one unit of work with what follows from it: the next attempt (through the
outbox, after an exponential backoff with jitter) or, after
``webhook_disable_after`` failed attempts in a row, the subscription
switched off with a notice in the audit log. A worker that dies after the
POST and before recording it leaves the outbox entry to run again: the
receiver sees the same delivery id twice, which is what it deduplicates by.
"""

from __future__ import annotations

import json
import logging
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from tortoise.expressions import F

from tessera import runtime
from tessera.audit import service as audit
from tessera.config import Settings
from tessera.errors import DomainError
from tessera.scope import BrandScope
from tessera.uow import unit_of_work
from tessera.webhooks.addresses import check_url
from tessera.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookSubscription
from tessera.webhooks.service import abandon_pending, schedule_send
from tessera.webhooks.signing import Secrets, signature_header
from tessera.webhooks.triggers import scope_of

log = logging.getLogger("tessera.webhooks")

USER_AGENT = "Tessera-Webhooks/1"
MAX_ERROR = 500


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def backoff_s(settings: Settings, attempt: int) -> float:
    """Wait after failed attempt ``attempt`` (1, 2, ...): the base doubled each
    time up to the cap, times a random 50-100 % so that many deliveries
    failing together do not all come back at the same second."""
    ceiling = min(settings.webhook_retry_max_s, settings.webhook_retry_base_s * 2 ** (attempt - 1))
    return ceiling * random.uniform(0.5, 1.0)


async def webhooks_send(ctx: dict[str, Any], brand_id: int, delivery_pk: int) -> str:
    """Make one attempt of a delivery; returns its status afterwards."""
    scope = await scope_of(brand_id)
    delivery = await scope.get(WebhookDelivery, delivery_pk) if scope else None
    if scope is None or delivery is None:
        return "gone"
    if delivery.status is not DeliveryStatus.PENDING:
        return delivery.status.value  # sent twice (a replayed entry): the first settled it
    subscription = await scope.get(WebhookSubscription, delivery.subscription_id)
    if subscription is None or not subscription.active:
        await (
            scope.query(WebhookDelivery)
            .filter(id=delivery.id, status=DeliveryStatus.PENDING)
            .update(
                status=DeliveryStatus.DEAD, next_attempt_at=None, last_error="subscription disabled"
            )
        )
        return DeliveryStatus.DEAD.value
    rt = runtime.current()
    now = datetime.now(UTC)
    code, error = await _post(rt.http(), rt.settings, subscription, delivery, now)
    return await _record(scope, rt.settings, delivery, subscription, now, code, error)


async def _post(
    client: httpx.AsyncClient,
    settings: Settings,
    subscription: WebhookSubscription,
    delivery: WebhookDelivery,
    now: datetime,
) -> tuple[int | None, str]:
    """The response code (None when there was none) and, unless it was 2xx,
    what went wrong."""
    body = encode(delivery.payload)
    timestamp = int(now.timestamp())
    valid = Secrets.open(settings.secret(), subscription.secrets).valid(now)
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "tessera-webhook-id": str(delivery.delivery_id),
        "tessera-webhook-timestamp": str(timestamp),
        "tessera-webhook-signature": signature_header(valid, timestamp, body),
    }
    try:
        url = await check_url(subscription.url, settings)
        response = await client.post(
            url, content=body, headers=headers, timeout=settings.webhook_timeout_s
        )
    except DomainError as refused:
        return None, refused.message
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR]
    if response.is_success:
        return response.status_code, ""
    return response.status_code, f"HTTP {response.status_code}: {response.text}"[:MAX_ERROR]


async def _record(
    scope: BrandScope,
    settings: Settings,
    delivery: WebhookDelivery,
    subscription: WebhookSubscription,
    now: datetime,
    code: int | None,
    error: str,
) -> str:
    attempt = delivery.attempts + 1
    ok = code is not None and not error
    async with unit_of_work(scope) as uow:
        conn = uow.connection
        deliveries = scope.query(WebhookDelivery).using_db(conn)
        subscriptions = scope.query(WebhookSubscription).using_db(conn).filter(id=subscription.id)
        # Only the run that saw the delivery at this attempt records it: a
        # second run of the same entry (an expired lease) changes nothing.
        taken = await deliveries.filter(
            id=delivery.id, status=DeliveryStatus.PENDING, attempts=delivery.attempts
        ).update(attempts=attempt, last_attempt_at=now, last_response_code=code, last_error=error)
        if not taken:
            return "skipped"
        this = deliveries.filter(id=delivery.id)
        if ok:
            await this.update(
                status=DeliveryStatus.DELIVERED, delivered_at=now, next_attempt_at=None
            )
            await subscriptions.update(consecutive_failures=0)
            return DeliveryStatus.DELIVERED.value
        await subscriptions.update(consecutive_failures=F("consecutive_failures") + 1)
        counted = await subscriptions.first().values_list("consecutive_failures", flat=True)
        failures = int(counted)  # type: ignore[call-overload]
        disable = failures >= settings.webhook_disable_after
        next_at: datetime | None = None
        if disable:
            status = DeliveryStatus.DEAD
        elif attempt >= settings.webhook_max_attempts:
            status = DeliveryStatus.FAILED
        else:
            status = DeliveryStatus.PENDING
            next_at = now + timedelta(seconds=backoff_s(settings, attempt))
            schedule_send(uow, delivery.id, delay_s=(next_at - now).total_seconds())
        await this.update(status=status, next_attempt_at=next_at)
        if disable:
            await _disable(scope, conn, subscription, now, failures, error)
            await abandon_pending(uow, subscription.id)
    return status.value


async def _disable(
    scope: BrandScope,
    conn: Any,
    subscription: WebhookSubscription,
    now: datetime,
    failures: int,
    error: str,
) -> None:
    reason = f"{failures} failed attempts in a row; last: {error}"[:MAX_ERROR]
    await (
        scope.query(WebhookSubscription)
        .using_db(conn)
        .filter(id=subscription.id, active=True)
        .update(active=False, disabled_at=now, disabled_reason=reason)
    )
    # The notice: the brand's audit log (and the admin page) say why.
    await audit.record(
        scope,
        "webhookSubscriptionDisabled",
        "ok",
        {"id": subscription.id, "url": subscription.url, "reason": reason},
    )
    log.warning(
        "webhook subscription %s disabled: %s",
        subscription.id,
        reason,
        extra={"brand_id": scope.brand_id, "subscription_id": subscription.id},
    )
