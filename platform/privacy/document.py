"""The member's data as one JSON document, and the JSON Schema of that
document (docs/member-export-schema.json; docs/privacy.md, "Export").

Each section is the member's rows of one table, every column but the brand
id, as stored: ids are Tessera's integer ids, money in minor units of the
brand's currency, times ISO 8601 in UTC. Sections that reach the member
through another row (order lines through orders, lots through accounts) come
after the section they hang from. The schema is derived from the same list
of sections and the models' fields, so a new column shows in both."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from tortoise import fields
from tortoise.expressions import Q
from tortoise.models import Model

from tessera.assets.models import AssetAccount, LedgerEntry, PointsLot
from tessera.audit.models import AuditLogEntry
from tessera.behaviour.models import BehaviourEvent
from tessera.campaigns.models import CampaignRecipient
from tessera.channels.models import ChannelConsent, DoNotContact, Message
from tessera.checkout.models import HeldCoupon, RewardHold
from tessera.coupons.models import Coupon, CouponAllowance, CouponRedemption, CouponTemplate
from tessera.members.models import DuplicateCandidate, Member, MemberMerge
from tessera.models_base import BrandOwned
from tessera.orders.models import MemberStats, Order, OrderLine, Refund, RefundLine
from tessera.persons import linking as persons
from tessera.privacy.erasure import personal_values, rows_about
from tessera.privacy.identities import IdentityValue, identity_values
from tessera.rewards.models import CheckIn, Referral
from tessera.scope import BrandScope
from tessera.segments.models import MemberLifecycle, Segment, SegmentMembership
from tessera.slots.models import MemberCluster, SlotEvent
from tessera.tags.models import Tag, TagAssignment
from tessera.tiers.models import MemberTierState, TierDefinition, TierHistory
from tessera.webhooks.models import WebhookDelivery

FORMAT = "tessera.member-export"
VERSION = 1

# The sections loaded so far, by name: a section's condition may read them.
Loaded = dict[str, list[dict[str, Any]]]


def _ids(loaded: Loaded, section: str, key: str = "id") -> list[Any]:
    return [row[key] for row in loaded[section]]


@dataclass(frozen=True)
class Section:
    name: str
    model: type[BrandOwned]
    description: str
    where: Callable[[int, Loaded], Q]
    order: str = "id"


def _mine(member_id: int, loaded: Loaded) -> Q:
    return Q(member_id=member_id)


SECTIONS: tuple[Section, ...] = (
    Section("orders", Order, "Orders recorded for the member.", _mine),
    Section(
        "order_lines",
        OrderLine,
        "The items of those orders.",
        lambda m, loaded: Q(order_id__in=_ids(loaded, "orders")),
    ),
    Section("refunds", Refund, "Refunds of those orders.", _mine),
    Section(
        "refund_lines",
        RefundLine,
        "What each refund by lines took back.",
        lambda m, loaded: Q(refund_id__in=_ids(loaded, "refunds")),
    ),
    Section("statistics", MemberStats, "Purchase figures kept per member.", _mine, "member_id"),
    Section("behaviour_events", BehaviourEvent, "What the member did (views, visits...).", _mine),
    Section("asset_accounts", AssetAccount, "Balances: points, stored value, growth.", _mine),
    Section("ledger_entries", LedgerEntry, "Every movement of those balances.", _mine),
    Section(
        "points_lots",
        PointsLot,
        "Points earned together, with their expiry.",
        lambda m, loaded: Q(account_id__in=_ids(loaded, "asset_accounts")),
    ),
    Section("coupons", Coupon, "Coupons issued to the member.", _mine),
    Section("coupon_redemptions", CouponRedemption, "Uses of those coupons.", _mine),
    Section("coupon_allowances", CouponAllowance, "Coupons of each template issued so far.", _mine),
    Section("tier_state", MemberTierState, "The tier held now.", _mine, "member_id"),
    Section("tier_history", TierHistory, "Every change of tier.", _mine),
    Section("tags", TagAssignment, "Tags on the member.", _mine),
    Section("segment_memberships", SegmentMembership, "Segments the member is in now.", _mine),
    Section("lifecycle", MemberLifecycle, "RFM scores and lifecycle stage.", _mine, "member_id"),
    Section("checkout_holds", RewardHold, "Points and coupons held for checkouts.", _mine),
    Section(
        "held_coupons",
        HeldCoupon,
        "Coupons those holds reserved.",
        lambda m, loaded: Q(hold_id__in=_ids(loaded, "checkout_holds")),
    ),
    Section("check_ins", CheckIn, "Daily check-ins.", _mine),
    Section(
        "messages", Message, "Messages sent, held back or due, and what became of them.", _mine
    ),
    Section(
        "campaign_recipients",
        CampaignRecipient,
        "Campaigns the member was in the audience of, and whether in the holdout.",
        _mine,
    ),
    Section("consents", ChannelConsent, "Yes or no to each channel and purpose.", _mine),
    Section("do_not_contact", DoNotContact, "Channels never to use, and why.", _mine),
    Section("slot_events", SlotEvent, "Banners and recommendations shown and clicked.", _mine),
    Section(
        "cluster", MemberCluster, "The member cluster of the last clustering.", _mine, "member_id"
    ),
    Section(
        "merges",
        MemberMerge,
        "Merges the member took part in, as the member kept or the one merged into it.",
        lambda m, loaded: Q(survivor_id=m) | Q(merged_id=m),
    ),
    Section(
        "duplicate_candidates",
        DuplicateCandidate,
        "Pairs of members proposed for review as possibly one person.",
        lambda m, loaded: Q(member_id=m) | Q(other_id=m),
    ),
    Section(
        "referrals",
        Referral,
        "Referrals the member made or came through.",
        lambda m, loaded: Q(referrer_id=m) | Q(referee_id=m),
    ),
)


@dataclass(frozen=True)
class Reference:
    """Names of the brand's objects the member's rows point at, for a reader."""

    name: str
    model: type[BrandOwned]
    columns: tuple[str, ...]
    ids: Callable[[Loaded], list[Any]]


REFERENCES: tuple[Reference, ...] = (
    Reference("tag_names", Tag, ("id", "code", "name"), lambda d: _ids(d, "tags", "tag_id")),
    Reference(
        "segment_names",
        Segment,
        ("id", "name"),
        lambda d: _ids(d, "segment_memberships", "segment_id"),
    ),
    Reference(
        "tier_names",
        TierDefinition,
        ("id", "code", "name"),
        lambda d: [
            *_ids(d, "tier_state", "tier_id"),
            *_ids(d, "tier_history", "from_tier_id"),
            *_ids(d, "tier_history", "to_tier_id"),
        ],
    ),
    Reference(
        "coupon_template_names",
        CouponTemplate,
        ("id", "title"),
        lambda d: _ids(d, "coupons", "template_id"),
    ),
)


@dataclass(frozen=True)
class Log:
    """A log whose JSON column may be about the member: the rows found by the
    same search the erasure scrubs with (:func:`tessera.privacy.erasure.rows_about`)."""

    name: str
    model: type[BrandOwned]
    column: str
    description: str
    by_member_id: bool = False  # also rows whose data names the member's id


LOGS: tuple[Log, ...] = (
    Log(
        "audit_entries",
        AuditLogEntry,
        "details",
        "Audit log entries that quote the member's personal values (calls that named them).",
    ),
    Log(
        "webhook_deliveries",
        WebhookDelivery,
        "payload",
        "Events about the member sent to the brand's webhook subscribers.",
        by_member_id=True,
    ),
)


def _member_id_patterns(member_id: int) -> list[str]:
    """``"member_id": 42`` as a JSON text may hold it, ending the value."""
    return [f'"member_id":{space}{member_id}{end}' for space in ("", " ") for end in (",", "}")]


async def _logs(
    scope: BrandScope, member: Member, identities: list[IdentityValue]
) -> dict[str, list[dict[str, Any]]]:
    needles = personal_values(member, (i.value for i in identities))
    found = {}
    for log in LOGS:
        patterns = _member_id_patterns(member.id) if log.by_member_id else []
        rows, _ = await rows_about(scope, log.model, log.column, needles, patterns)
        found[log.name] = [row_of(row) for row in rows]
    return found


def to_json(value: Any) -> Any:
    """A column's value as the document holds it."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal | UUID):
        return str(value)
    return value


def columns(model: type[Model]) -> list[str]:
    """The columns a section shows: every stored field but the brand."""
    return [name for name in model._meta.fields_db_projection if name != "brand_id"]


def row_of(row: Model) -> dict[str, Any]:
    return {name: to_json(getattr(row, name)) for name in columns(type(row))}


# The profile's phone and email are stored sealed; the document holds them
# in clear (the member's own data), not the ciphertext.
_SEALED = {"phone_sealed": "phone", "email_sealed": "email"}


def profile_of(member: Member) -> dict[str, Any]:
    found = row_of(member)
    for sealed, clear in _SEALED.items():
        del found[sealed]
        found[clear] = getattr(member, clear)
    return found


def _profile_schema() -> dict[str, Any]:
    schema = _row_schema(Member, [c for c in columns(Member) if c not in _SEALED])
    text_or_null = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    for clear in _SEALED.values():
        schema["properties"][clear] = dict(text_or_null)
        schema["required"].append(clear)
    return schema


async def build(
    scope: BrandScope,
    member_id: int,
    now: datetime | None = None,
    on_section: Callable[[str], Awaitable[None]] | None = None,
) -> dict[str, Any]:
    """Every fact Tessera holds about the member, as one JSON-ready dict."""
    member = await scope.query(Member).get(id=member_id)
    loaded: Loaded = {}
    for section in SECTIONS:
        rows = (
            await scope.query(section.model)
            .filter(section.where(member_id, loaded))
            .order_by(section.order)
        )
        loaded[section.name] = [row_of(row) for row in rows]
    references: dict[str, list[dict[str, Any]]] = {}
    for reference in REFERENCES:
        wanted = {i for i in reference.ids(loaded) if i is not None}
        rows = await scope.query(reference.model).filter(id__in=wanted).order_by("id")
        references[reference.name] = [
            {c: to_json(getattr(row, c)) for c in reference.columns} for row in rows
        ]
    identities = await identity_values(scope, member_id)
    logs = await _logs(scope, member, identities)
    person_id, linked_by = await persons.member_link(scope, member_id)
    return {
        "format": FORMAT,
        "version": VERSION,
        "generated_at": (now or datetime.now(UTC)).isoformat(),
        "brand": scope.brand.code,
        "currency": scope.brand.currency,
        "member_id": member_id,
        "member": profile_of(member),
        "identities": [
            {"kind": i.kind, "value": i.value, "created_at": to_json(i.created_at)}
            for i in identities
        ],
        **loaded,
        **logs,
        "person": {"person_id": person_id, "linked_by": linked_by},
        "references": references,
    }


# --- the JSON Schema ------------------------------------------------------------

_TIME = {"type": "string", "format": "date-time"}


def _field_schema(field: fields.Field[Any]) -> dict[str, Any]:
    schema: dict[str, Any]
    if isinstance(field, fields.DatetimeField):
        schema = dict(_TIME)
    elif isinstance(field, fields.DateField):
        schema = {"type": "string", "format": "date"}
    elif isinstance(field, fields.BooleanField):
        schema = {"type": "boolean"}
    elif isinstance(field, fields.IntField | fields.BigIntField | fields.SmallIntField):
        schema = {"type": "integer"}
    elif isinstance(field, fields.JSONField):
        schema = {}
    elif isinstance(
        field, fields.relational.ForeignKeyFieldInstance | fields.relational.OneToOneFieldInstance
    ):
        schema = {"type": "integer"}
    else:
        schema = {"type": "string"}
    if field.description:
        schema["description"] = field.description
    if field.null and schema:
        return {"anyOf": [schema, {"type": "null"}]}
    return schema


def _row_schema(model: type[Model], names: list[str] | tuple[str, ...]) -> dict[str, Any]:
    meta = model._meta
    properties = {}
    for name in names:
        field = meta.fields_map[name]
        properties[name] = _field_schema(field)
    return {
        "type": "object",
        "required": list(names),
        "properties": properties,
        "additionalProperties": False,
    }


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a document :func:`build` returns."""
    sections = {
        s.name: {
            "description": s.description,
            "type": "array",
            "items": _row_schema(s.model, columns(s.model)),
        }
        for s in SECTIONS
    }
    logs = {
        log.name: {
            "description": log.description,
            "type": "array",
            "items": _row_schema(log.model, columns(log.model)),
        }
        for log in LOGS
    }
    references = {
        r.name: {"type": "array", "items": _row_schema(r.model, r.columns)} for r in REFERENCES
    }
    identity = {
        "type": "object",
        "required": ["kind", "value", "created_at"],
        "properties": {
            "kind": {"type": "string"},
            "value": {"type": "string"},
            "created_at": _TIME,
        },
        "additionalProperties": False,
    }
    top = {
        "format": {"const": FORMAT},
        "version": {"const": VERSION},
        "generated_at": _TIME,
        "brand": {"type": "string", "description": "the brand's code"},
        "currency": {"type": "string", "description": "money columns are minor units of it"},
        "member_id": {"type": "integer"},
        "member": {**_profile_schema(), "description": "The profile."},
        "identities": {
            "description": "Phones, emails, openids, cards... by which the member is known.",
            "type": "array",
            "items": identity,
        },
        **sections,
        **logs,
        "person": {
            "description": "The person across the tenant's brands this member is linked to "
            "(docs/persons.md), and the kinds of identity that link it; null without one.",
            "type": "object",
            "required": ["person_id", "linked_by"],
            "properties": {
                "person_id": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
                "linked_by": {"type": "array", "items": {"type": "string"}},
            },
            "additionalProperties": False,
        },
        "references": {
            "description": "Names of the brand's tags, segments, tiers and coupon templates "
            "the rows above point at.",
            "type": "object",
            "required": [r.name for r in REFERENCES],
            "properties": references,
            "additionalProperties": False,
        },
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://tessera.example/schemas/member-export.json",
        "title": "Tessera member data export",
        "description": "Every fact Tessera holds about one member (docs/privacy.md, Export).",
        "type": "object",
        "required": list(top),
        "properties": top,
        "additionalProperties": False,
    }


if __name__ == "__main__":  # python -P -m tessera.privacy.document > docs/member-export-schema.json
    import json

    from tortoise import Tortoise

    from tessera.db import APP_LABEL, MODEL_MODULES

    Tortoise.init_models(MODEL_MODULES, APP_LABEL)
    print(json.dumps(json_schema(), indent=2, ensure_ascii=False))
