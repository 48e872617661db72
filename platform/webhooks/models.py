"""A brand's webhook subscriptions and the deliveries made to them."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields

from tessera.models_base import BrandOwned


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its first attempt or a retry
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # every attempt failed; replay to try again
    DEAD = "dead"  # abandoned: its subscription was disabled or deleted


class WebhookSubscription(BrandOwned):
    """Where to POST which of the brand's events.

    ``secrets`` is the Fernet token (:mod:`tessera.crypto`) of
    ``{"current": ..., "previous": ..., "previous_until": iso}``: during a
    rotation both secrets sign, until ``previous_until``.
    """

    id = fields.BigIntField(primary_key=True)
    url = fields.CharField(max_length=2000)
    description = fields.CharField(max_length=200, default="")
    event_types = fields.JSONField(description='event names subscribed to, ["*"] for all')
    secrets = fields.TextField(description="encrypted signing secrets")
    active = fields.BooleanField(default=True)
    consecutive_failures = fields.IntField(default=0, description="failed attempts since a 2xx")
    disabled_at = fields.DatetimeField(null=True)
    disabled_reason = fields.CharField(max_length=500, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "webhook_subscription"


class WebhookDelivery(BrandOwned):
    """One event for one subscription: the same ``delivery_id`` (and body) on
    every attempt, so a receiver deduplicates by it."""

    id = fields.BigIntField(primary_key=True)
    delivery_id = fields.UUIDField(description="sent as Tessera-Webhook-Id")
    subscription: fields.ForeignKeyRelation[WebhookSubscription] = fields.ForeignKeyField(
        "tessera.WebhookSubscription", related_name="deliveries", on_delete=fields.CASCADE
    )
    subscription_id: int
    event_type = fields.CharField(max_length=64)
    payload = fields.JSONField(description="the body sent, as JSON")
    status = fields.CharEnumField(DeliveryStatus, max_length=16, default=DeliveryStatus.PENDING)
    attempts = fields.IntField(default=0, description="attempts since created or replayed")
    next_attempt_at = fields.DatetimeField(null=True)
    last_attempt_at = fields.DatetimeField(null=True)
    last_response_code = fields.IntField(null=True)
    last_error = fields.TextField(default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    delivered_at = fields.DatetimeField(null=True)

    class Meta:
        table = "webhook_delivery"
        # Unique with the brand: the fan-out's replays insert nothing twice,
        # and the key leads with the distribution column (DESIGN.md, Tenancy).
        unique_together = (("brand_id", "delivery_id"),)
        indexes = (("brand_id", "subscription_id", "status", "id"),)
