"""The event types a webhook can subscribe to, and their payloads.

A webhook body is an envelope around one domain event
(:class:`tessera.plugin_host.events.DomainEvent`):
``{"id", "type", "version", "occurred_at", "brand", "data"}``, ``data`` being
the event's payload. Version 1 payloads only ever gain keys; a change that
removes or retypes one is a new version. :func:`json_schema` gives each
type's JSON Schema (docs/webhooks.md prints them, and a test checks every
body sent against it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

VERSION = 1

Schema = dict[str, Any]

_INT: Schema = {"type": "integer"}
_STR: Schema = {"type": "string"}
_TIME: Schema = {"type": "string", "format": "date-time"}
_IDS: Schema = {"type": "array", "items": {"type": "integer"}}


def _maybe(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


@dataclass(frozen=True)
class EventType:
    name: str
    description: str
    fields: dict[str, dict[str, Any]]
    """``data``'s keys, each always present; more may appear."""


_LEDGER: dict[str, Schema] = {
    "member_id": _INT,
    "entry_id": _INT,
    "entry_type": {
        "enum": ["earn", "redeem", "expire", "adjust", "reverse", "pending", "release", "cancel"]
    },
    "delta": {**_INT, "description": "change of the balance"},
    "pending_delta": {**_INT, "description": "change of the held (pending) amount"},
    "balance": {**_INT, "description": "the balance after the entry"},
    "pending": {**_INT, "description": "held amount after the entry"},
    "source_type": _maybe(_STR),
    "source_ref": _maybe(_STR),
}
_SEGMENT: dict[str, Schema] = {
    "segment_id": _INT,
    "member_ids": {**_IDS, "description": "at most 1,000 per delivery; more come in others"},
    "total": {**_INT, "description": "members that entered (exited) in this refresh"},
    "truncated": {"type": "boolean"},
}
_COUPON: dict[str, Schema] = {"coupon_id": _INT, "member_id": _INT, "template_id": _INT}

EVENT_TYPES: dict[str, EventType] = {
    e.name: e
    for e in (
        EventType(
            "member.joined",
            "A member was created or activated.",
            {
                "member_id": _INT,
                "card_number": _STR,
                "join_channel": _maybe(_STR),
                "imported": {"type": "boolean"},
            },
        ),
        EventType(
            "member.updated",
            "A member's profile or identities changed.",
            {"member_id": _INT, "changed": {"type": "array", "items": _STR}},
        ),
        EventType(
            "member.erased",
            "A member's personal data was erased (docs/privacy.md): erase your copies of it. "
            "Orders and ledgers stay under the member id.",
            {
                "member_id": _INT,
                "reason": {
                    "enum": [
                        "member_request",
                        "consent_withdrawn",
                        "legal_obligation",
                        "retention",
                        "other",
                    ]
                },
            },
        ),
        EventType(
            "member.merged",
            "Another member of the brand was merged into this one (`member_id`, the "
            "survivor); `merged_member_id` is now a tombstone resolving to it. "
            "`conflicts` names the fields both had (the survivor's value was kept).",
            {
                "member_id": _INT,
                "merged_member_id": _INT,
                "merge_id": _INT,
                "automatic": {"type": "boolean"},
                "conflicts": {"type": "array", "items": _STR},
            },
        ),
        EventType(
            "member.checked_in",
            "A member's daily check-in.",
            {"member_id": _INT, "day": {"type": "string", "format": "date"}, "streak": _INT},
        ),
        EventType(
            "order.recorded",
            "An order was recorded (amounts in minor units of `currency`).",
            {
                "order_id": _INT,
                "external_id": _STR,
                "member_id": _INT,
                "amount_paid": _INT,
                "currency": _STR,
                "units": _INT,
                "occurred_at": _TIME,
            },
        ),
        EventType(
            "refund.recorded",
            "A refund was recorded (amounts in minor units of `currency`).",
            {
                "refund_id": _INT,
                "external_id": _STR,
                "order_id": _INT,
                "member_id": _INT,
                "amount": _INT,
                "currency": _STR,
                "units": _INT,
                "occurred_at": _TIME,
            },
        ),
        EventType(
            "event.recorded",
            "A behaviour event was recorded.",
            {
                "event_id": _INT,
                "external_id": _STR,
                "member_id": _INT,
                "type": _STR,
                "occurred_at": _TIME,
            },
        ),
        EventType("points.changed", "A points ledger entry was written.", _LEDGER),
        EventType(
            "stored_value.changed",
            "A stored-value ledger entry was written (minor units).",
            _LEDGER,
        ),
        EventType("growth.changed", "A growth-value ledger entry was written.", _LEDGER),
        EventType(
            "points.expiring_soon",
            "Points of a member lapse within the brand's warning window.",
            {"member_id": _INT, "points": _INT, "expires_at": _TIME, "within_days": _INT},
        ),
        EventType(
            "coupon.issued",
            "A coupon was issued to a member.",
            {**_COUPON, "code": _STR, "expires_at": _TIME},
        ),
        EventType(
            "coupon.redeemed",
            "A coupon was used.",
            {
                **_COUPON,
                "code": _STR,
                "redemption_id": _INT,
                "order_id": _maybe(_INT),
                "external_order_id": _maybe(_STR),
                "discount": _maybe(_INT),
                "currency": _STR,
            },
        ),
        EventType("coupon.voided", "A coupon was voided.", {**_COUPON, "reason": _maybe(_STR)}),
        EventType(
            "coupon.restored",
            "A coupon was given back by a full refund of its order.",
            {
                "coupon_id": _INT,
                "member_id": _INT,
                "order_id": _INT,
                "redemption_id": _INT,
                "expired": {"type": "boolean"},
            },
        ),
        EventType(
            "tier.changed",
            "A member's tier went up, down, or was renewed.",
            {
                "member_id": _INT,
                "from_tier": _maybe(_STR),
                "to_tier": _maybe(_STR),
                "reason": _STR,
                "policy": _maybe(_STR),
                "history_id": _INT,
                "expires_at": _maybe(_TIME),
            },
        ),
        EventType("segment.entered", "Members entered a segment.", _SEGMENT),
        EventType("segment.exited", "Members left a segment.", _SEGMENT),
        EventType(
            "tags.changed",
            "Tags were attached, removed or deleted.",
            {"action": _STR, "tags": {"type": "array", "items": _STR}},
        ),
    )
}

ALL = "*"


def json_schema(name: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a whole webhook body of type ``name``."""
    event = EVENT_TYPES[name]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": name,
        "description": event.description,
        "type": "object",
        "required": ["id", "type", "version", "occurred_at", "brand", "data"],
        "properties": {
            "id": {"type": "string", "format": "uuid", "description": "the delivery id"},
            "type": {"const": name},
            "version": {"const": VERSION},
            "occurred_at": _TIME,
            "brand": {"type": "string", "description": "the brand's code"},
            "data": {
                "type": "object",
                "required": sorted(event.fields),
                "properties": event.fields,
                "additionalProperties": True,
            },
        },
    }


def body(
    delivery_id: str, name: str, occurred_at: datetime, brand: str, data: dict[str, Any]
) -> dict[str, Any]:
    return {
        "id": delivery_id,
        "type": name,
        "version": VERSION,
        "occurred_at": occurred_at.isoformat(),
        "brand": brand,
        "data": data,
    }


def all_schemas() -> dict[str, dict[str, Any]]:
    """Every type's schema, as docs/webhook-schemas.json holds them."""
    return {name: json_schema(name) for name in EVENT_TYPES}


if __name__ == "__main__":  # python -P -m tessera.webhooks.events > docs/webhook-schemas.json
    import json

    print(json.dumps(all_schemas(), indent=2))
