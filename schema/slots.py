"""Personalisation slots (docs/slots.md): resolving a slot for a member,
banner creatives (manage scope), slot events and the A/B comparison.

A slot is created with ``setFeature(input: {component, slot, config})``; the
fields here read and fill it. ``slot(key)`` is a page-view read: the
resolver is one async root, every field below it a plain attribute."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import cast

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from tessera.auth.member_tokens import MemberPrincipal
from tessera.errors import DomainError
from tessera.features.models import BrandFeature
from tessera.plugin_host.components import ComponentFamily, ItemFacts
from tessera.schema.errors import UserError
from tessera.schema.ids import decode_id, encode_id, id_for_lookup, require_id
from tessera.schema.members.session import acting_member
from tessera.schema.orders.money import Money
from tessera.schema.permissions import CanManage, CanRead, CanReadOrIsMember, CanWriteOrIsMember
from tessera.scope import BrandScope
from tessera.slots import creatives as creative_service
from tessera.slots import tracking
from tessera.slots.models import ClusterInfo
from tessera.slots.models import SlotCreative as CreativeRow
from tessera.slots.resolve import Resolution, resolve


@strawberry.enum(description="Who a banner creative is for.")
class SlotAudienceKind(Enum):
    EVERYONE = "everyone"
    SEGMENT = "segment"
    TAGS = "tags"
    TIER = "tier"
    LIFECYCLE = "lifecycle"


@strawberry.enum(description="What a slot event records.")
class SlotEventKind(Enum):
    IMPRESSION = "impression"
    CLICK = "click"


# The longest slot key a brand can create (the column's length).
SLOT_KEY_LENGTH: int = CreativeRow._meta.fields_map["slot"].max_length  # type: ignore[attr-defined]


@strawberry.type(description="A creative's audience.")
class SlotAudience:
    kind: SlotAudienceKind = strawberry.field(description="Who it is for.")
    values: list[str] = strawberry.field(
        description="Tag codes (any of them), tier codes or lifecycle stages; empty otherwise."
    )
    segment_id: strawberry.ID | None = strawberry.field(
        description="The segment, for `SEGMENT`; it may since have been deleted (see the "
        "slot's `lastError`)."
    )


@strawberry.type(description="A banner a slot may show, with whom and when (manage scope).")
class SlotCreative:
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    slot: str = strawberry.field(description="The slot's key.")
    title: str = strawberry.field(description="Title shown with the image.")
    image_url: str = strawberry.field(description="http(s) URL of the image.")
    link: str = strawberry.field(description="Where a click leads: http(s) URL or a /path.")
    alt_text: str = strawberry.field(description="Text alternative of the image.")
    audience: SlotAudience = strawberry.field(description="Who it is for.")
    starts_at: datetime | None = strawberry.field(description="Shown from (null: always).")
    ends_at: datetime | None = strawberry.field(description="Shown until, excluded.")
    priority: int = strawberry.field(
        description="Between overlapping audiences the highest priority wins."
    )
    split_group: str = strawberry.field(
        description="Creatives sharing a group (and priority) are A/B variants; empty: none."
    )
    split_weight: int = strawberry.field(description="Share of the group's members, 1-100.")
    fallback: bool = strawberry.field(
        description="Shown (within its window) when no other creative fits the member."
    )
    created_at: datetime = strawberry.field(description="When it was created.")
    updated_at: datetime = strawberry.field(description="When it last changed.")

    @classmethod
    def from_model(cls, row: CreativeRow) -> SlotCreative:
        return cls(
            id=strawberry.ID(encode_id("SlotCreative", row.id)),
            slot=row.slot,
            title=row.title,
            image_url=row.image_url,
            link=row.link,
            alt_text=row.alt_text,
            audience=SlotAudience(
                kind=SlotAudienceKind(row.audience_kind),
                values=list(row.audience_values or []),
                segment_id=strawberry.ID(encode_id("Segment", row.segment_id))
                if row.segment_id is not None
                else None,
            ),
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            priority=row.priority,
            split_group=row.split_group,
            split_weight=row.split_weight,
            fallback=row.fallback,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


@strawberry.type(description="A named slot of the brand: an instance of a slot kind.")
class Slot:
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    key: str = strawberry.field(description="The slot's name, as in `slot(key:)`.")
    kind: str = strawberry.field(description="The slot kind's component key.")
    enabled: bool = strawberry.field(description="False: `slot(key)` finds nothing.")
    last_error: str | None = strawberry.field(
        description="Why the slot last showed less than configured (a deleted segment, a "
        "broken plugin); null when fine."
    )
    last_error_at: datetime | None = strawberry.field(description="When that was noticed.")

    @classmethod
    def from_model(cls, row: BrandFeature) -> Slot:
        return cls(
            id=strawberry.ID(encode_id("Slot", row.id)),
            key=row.instance,
            kind=row.component_key,
            enabled=row.enabled,
            last_error=row.last_error,
            last_error_at=row.last_error_at,
        )


@strawberry.type(description="A banner as a member's app shows it.")
class Banner:
    id: strawberry.ID = strawberry.field(
        description="The creative's id (send it back as `creativeId` in `recordSlotEvents`)."
    )
    title: str = strawberry.field(description="Title.")
    image_url: str = strawberry.field(description="http(s) URL of the image.")
    link: str = strawberry.field(description="Where a click leads.")
    alt_text: str = strawberry.field(description="Text alternative of the image.")


@strawberry.type(description="A catalogue item as recommendations show it.")
class CatalogueItem:
    sku: str = strawberry.field(description="The brand's item code.")
    name: str = strawberry.field(description="Name.")
    category: str | None = strawberry.field(description="Category.")
    tags: list[str] = strawberry.field(description="Item tags.")
    price: Money | None = strawberry.field(description="List price; null when unknown.")
    active: bool = strawberry.field(description="False: never recommended.")

    @classmethod
    def from_facts(cls, item: ItemFacts, currency: str) -> CatalogueItem:
        return cls(
            sku=item.sku,
            name=item.name,
            category=item.category,
            tags=list(item.tags),
            price=Money.of(item.price, currency) if item.price is not None else None,
            active=item.active,
        )


@strawberry.type(description="One thing a slot shows, with the reason it was chosen.")
class SlotEntry:
    reason: str = strawberry.field(
        description='Why, for display and debugging, e.g. "bought together with SKU-1".'
    )
    score: float = strawberry.field(description="The kind's score (higher ranks first).")
    variant: str | None = strawberry.field(
        description="The A/B variant the member is assigned to (`group:creative`), if any."
    )
    banner: Banner | None = strawberry.field(description="The creative, for banner slots.")
    item: CatalogueItem | None = strawberry.field(description="The item, for recommendations.")


@strawberry.type(description="A slot resolved for a member, from stored data.")
class ResolvedSlot:
    key: str = strawberry.field(description="The slot's name.")
    kind: str = strawberry.field(description="The slot kind's component key.")
    entries: list[SlotEntry] = strawberry.field(description="What to show, best first.")

    @classmethod
    def from_resolution(cls, r: Resolution, currency: str) -> ResolvedSlot:
        entries = []
        for e in r.entries:
            banner = item = None
            if r.kind.content == "creatives":
                row = r.creatives.get(int(e.ref)) if e.ref.isdigit() else None
                if row is None:
                    continue
                banner = Banner(
                    id=strawberry.ID(encode_id("SlotCreative", row.id)),
                    title=row.title,
                    image_url=row.image_url,
                    link=row.link,
                    alt_text=row.alt_text,
                )
            else:
                facts = r.items.get(e.ref)
                item = CatalogueItem.from_facts(facts, currency) if facts else None
            entries.append(
                SlotEntry(
                    reason=e.reason, score=e.score, variant=e.variant, banner=banner, item=item
                )
            )
        return cls(key=r.feature.instance, kind=r.feature.component_key, entries=entries)


@strawberry.type(description="Impressions and clicks of one creative (an A/B variant).")
class SlotVariantResult:
    creative_id: strawberry.ID = strawberry.field(description="The creative.")
    split_group: str = strawberry.field(description="Its A/B group; empty: none.")
    impressions: int = strawberry.field(description="Impressions recorded.")
    clicks: int = strawberry.field(description="Clicks recorded.")
    click_through: float = strawberry.field(description="clicks / impressions (0 without).")
    low: float = strawberry.field(description="Lower end of the 95% Wilson interval.")
    high: float = strawberry.field(description="Upper end of the 95% Wilson interval.")


@strawberry.type(description="A cluster of the brand's last automatic clustering run.")
class MemberCluster:
    number: int = strawberry.field(
        description='Its number, for the segment rule `{"type": "cluster", "in": [n]}` '
        "(0 is the largest)."
    )
    size: int = strawberry.field(description="Members in it.")
    description: str = strawberry.field(
        description='Generated from its centre, e.g. "high spend, recent, frequent, mostly Shoes".'
    )
    centre: JSON = strawberry.field(
        description="The centre: days since the last order, orders, spend (minor units) and "
        "the share of units per top category."
    )
    computed_at: datetime = strawberry.field(description="When the run was.")


def _slot_member(info: Info, member_id: strawberry.ID | None) -> int | None:
    if isinstance(info.context.principal, MemberPrincipal) or member_id is not None:
        return acting_member(
            info, member_id, DomainError("NOT_FOUND", "no such member", ["memberId"])
        )
    return None


async def _resolved(
    scope: BrandScope, key: str, member: int | None, at: datetime | None = None
) -> ResolvedSlot:
    resolution = await resolve(scope, key, member, now=at)
    return ResolvedSlot.from_resolution(resolution, scope.brand.currency)


@strawberry.type
class SlotsQuery:
    @strawberry.field(
        description="A slot resolved for a member from stored data (no model runs): the banner "
        "or the ranked items, each with its reason. A member token reads its own slots; a brand "
        "key with the read scope names `memberId` (omitted: what a visitor without a member "
        "sees). Unknown or disabled slot: `NOT_FOUND`.",
        permission_classes=[CanReadOrIsMember],
    )
    async def slot(
        self, info: Info, key: str, member_id: strawberry.ID | None = None
    ) -> ResolvedSlot:
        member = _slot_member(info, member_id)
        return await _resolved(info.context.scope, key, member)

    @strawberry.field(
        description="What `slot(key)` would show `memberId` at time `at` (default now): for "
        "checking creatives before they go live. Needs the manage scope.",
        permission_classes=[CanManage],
    )
    async def preview_slot(
        self,
        info: Info,
        key: str,
        member_id: strawberry.ID | None = None,
        at: datetime | None = None,
    ) -> ResolvedSlot:
        member = require_id(member_id, "Member", "memberId") if member_id is not None else None
        if at is not None and at.tzinfo is None:
            raise DomainError("INVALID_TIME", "at needs a UTC offset", ["at"])
        return await _resolved(info.context.scope, key, member, at)

    @strawberry.field(
        description="The brand's slots (enabled or not), by key. Needs the read scope.",
        permission_classes=[CanRead],
    )
    async def slots(self, info: Info) -> list[Slot]:
        rows = (
            await info.context.scope.query(BrandFeature)
            .filter(family=ComponentFamily.SLOT_KIND.value)
            .order_by("instance")
        )
        return [Slot.from_model(row) for row in rows]

    @strawberry.field(
        description="A slot's banner creatives, highest priority first. Needs the read scope.",
        permission_classes=[CanRead],
    )
    async def slot_creatives(self, info: Info, slot: str) -> list[SlotCreative]:
        if len(slot) > SLOT_KEY_LENGTH:
            return []  # no slot has such a key (the column would refuse the filter)
        rows = await creative_service.creatives(info.context.scope, slot).order_by(
            "-priority", "id"
        )
        return [SlotCreative.from_model(row) for row in rows]

    @strawberry.field(
        description="One creative by id (another brand's id: null). Needs the read scope.",
        permission_classes=[CanRead],
    )
    async def slot_creative(self, info: Info, id: strawberry.ID) -> SlotCreative | None:
        pk = decode_id(str(id), "SlotCreative")
        row = await info.context.scope.get(CreativeRow, pk) if pk else None
        return SlotCreative.from_model(row) if row else None

    @strawberry.field(
        description="The clusters of the last automatic clustering run (nightly, or "
        "`tessera slots clusters`), largest first. Needs the read scope.",
        permission_classes=[CanRead],
    )
    async def member_clusters(self, info: Info) -> list[MemberCluster]:
        rows = await info.context.scope.query(ClusterInfo).order_by("cluster")
        return [
            MemberCluster(
                number=row.cluster,
                size=row.size,
                description=row.description,
                centre=cast(JSON, row.centre),
                computed_at=row.computed_at,
            )
            for row in rows
        ]

    @strawberry.field(
        description="Click-through per creative of a slot with its 95% Wilson interval, to "
        "compare A/B variants. Needs the read scope.",
        permission_classes=[CanRead],
    )
    async def slot_results(self, info: Info, slot: str) -> list[SlotVariantResult]:
        results = await tracking.slot_results(info.context.scope, slot)
        return [
            SlotVariantResult(
                creative_id=strawberry.ID(encode_id("SlotCreative", r.creative_id)),
                split_group=r.split_group,
                impressions=r.impressions,
                clicks=r.clicks,
                click_through=r.click_through,
                low=r.interval[0],
                high=r.interval[1],
            )
            for r in results
        ]


@strawberry.input(description="Who a creative is for.")
class SlotAudienceInput:
    kind: SlotAudienceKind = strawberry.field(description="Who it is for.")
    values: list[str] = strawberry.field(
        default_factory=list,
        description="Tag codes (any), tier codes or lifecycle stages, for those kinds.",
    )
    segment_id: strawberry.ID | None = strawberry.field(
        default=None, description="The segment, for `SEGMENT`."
    )

    def to_domain(self) -> creative_service.Audience:
        return creative_service.Audience(
            kind=self.kind.value,
            values=tuple(self.values),
            segment_id=id_for_lookup(self.segment_id, "Segment"),
        )


@strawberry.input(description="A new banner creative.")
class CreateSlotCreativeInput:
    slot: str = strawberry.field(description="The key of a banner slot.")
    title: str = strawberry.field(description="Title, 1-200 characters.")
    image_url: str = strawberry.field(description="http(s) URL of the image.")
    link: str = strawberry.field(description="http(s) URL or a /path on the brand's site.")
    alt_text: str = strawberry.field(description="Text alternative of the image (required).")
    audience: SlotAudienceInput | None = strawberry.field(
        default=None, description="Who it is for (default: everyone)."
    )
    starts_at: datetime | None = strawberry.field(
        default=None, description="Shown from; without an offset: the brand's local time."
    )
    ends_at: datetime | None = strawberry.field(
        default=None, description="Shown until (excluded); without an offset: local time."
    )
    priority: int = strawberry.field(default=0, description="Highest wins between audiences.")
    split_group: str = strawberry.field(default="", description="A/B group; empty: none.")
    split_weight: int = strawberry.field(default=1, description="Share in its group, 1-100.")
    fallback: bool = strawberry.field(default=False, description="Shown when nothing else fits.")


@strawberry.input(description="Changes to a creative; omitted fields stay.")
class UpdateSlotCreativeInput:
    id: strawberry.ID = strawberry.field(description="The creative.")
    title: str | None = strawberry.field(default=None, description="Title.")
    image_url: str | None = strawberry.field(default=None, description="Image URL.")
    link: str | None = strawberry.field(default=None, description="Link.")
    alt_text: str | None = strawberry.field(default=None, description="Alt text.")
    audience: SlotAudienceInput | None = strawberry.field(default=None, description="Audience.")
    starts_at: datetime | None = strawberry.field(default=None, description="Shown from.")
    ends_at: datetime | None = strawberry.field(default=None, description="Shown until.")
    priority: int | None = strawberry.field(default=None, description="Priority.")
    split_group: str | None = strawberry.field(default=None, description="A/B group.")
    split_weight: int | None = strawberry.field(default=None, description="A/B weight.")
    fallback: bool | None = strawberry.field(default=None, description="Fallback.")


@strawberry.input(description="The creative to delete.")
class DeleteSlotCreativeInput:
    id: strawberry.ID = strawberry.field(description="The creative.")


@strawberry.input(description="One impression or click.")
class SlotEventInput:
    event_id: str = strawberry.field(
        description="The app's id of the event (1-64 characters): sent twice, counted once."
    )
    slot: str = strawberry.field(description="The slot's key.")
    kind: SlotEventKind = strawberry.field(description="Impression or click.")
    creative_id: strawberry.ID | None = strawberry.field(
        default=None, description="The banner shown or clicked."
    )
    sku: str | None = strawberry.field(default=None, description="The item shown or clicked.")
    member_id: strawberry.ID | None = strawberry.field(
        default=None, description="The member (brand keys); a member token is its own member."
    )
    occurred_at: datetime | None = strawberry.field(
        default=None, description="When (with offset); default: now."
    )


@strawberry.input(description="A batch of slot events.")
class RecordSlotEventsInput:
    events: list[SlotEventInput] = strawberry.field(
        description=f"At most {tracking.MAX_EVENTS} events."
    )


@strawberry.type(description="Result of changing a creative.")
class SlotCreativePayload:
    creative: SlotCreative | None = strawberry.field(
        default=None, description="The creative as now stored."
    )
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")


@strawberry.type(description="Result of deleting a creative.")
class DeleteSlotCreativePayload:
    deleted_id: strawberry.ID | None = strawberry.field(
        default=None, description="Id of what was deleted."
    )
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")


@strawberry.type(description="Result of recording slot events.")
class RecordSlotEventsPayload:
    recorded: int = strawberry.field(default=0, description="New events stored.")
    replayed: int = strawberry.field(
        default=0, description="Events whose id was recorded before (ignored)."
    )
    errors: list[UserError] = strawberry.field(description="Why nothing was recorded.")


_FIELDS = (
    "title",
    "image_url",
    "link",
    "alt_text",
    "starts_at",
    "ends_at",
    "priority",
    "split_group",
    "split_weight",
    "fallback",
)


@strawberry.type
class SlotsMutation:
    @strawberry.mutation(
        description="Add a banner creative to a banner slot. Needs the manage scope.",
        permission_classes=[CanManage],
    )
    async def create_slot_creative(
        self, info: Info, input: CreateSlotCreativeInput
    ) -> SlotCreativePayload:
        values = {name: getattr(input, name) for name in _FIELDS}
        audience = input.audience.to_domain() if input.audience else None
        row = await creative_service.create_creative(
            info.context.scope, input.slot, values, audience
        )
        return SlotCreativePayload(creative=SlotCreative.from_model(row), errors=[])

    @strawberry.mutation(
        description="Change a banner creative. Needs the manage scope.",
        permission_classes=[CanManage],
    )
    async def update_slot_creative(
        self, info: Info, input: UpdateSlotCreativeInput
    ) -> SlotCreativePayload:
        values = {
            name: getattr(input, name) for name in _FIELDS if getattr(input, name) is not None
        }
        audience = input.audience.to_domain() if input.audience else None
        row = await creative_service.update_creative(
            info.context.scope, require_id(input.id, "SlotCreative", "id"), values, audience
        )
        return SlotCreativePayload(creative=SlotCreative.from_model(row), errors=[])

    @strawberry.mutation(
        description="Delete a banner creative (its recorded events stay). Needs the manage scope.",
        permission_classes=[CanManage],
    )
    async def delete_slot_creative(
        self, info: Info, input: DeleteSlotCreativeInput
    ) -> DeleteSlotCreativePayload:
        await creative_service.delete_creative(
            info.context.scope, require_id(input.id, "SlotCreative", "id")
        )
        return DeleteSlotCreativePayload(deleted_id=input.id, errors=[])

    @strawberry.mutation(
        description="Record a batch of impressions and clicks (idempotent per `eventId`): "
        "what `slotResults` counts. A member token records its own; a brand key needs the "
        "write scope.",
        permission_classes=[CanWriteOrIsMember],
    )
    async def record_slot_events(
        self, info: Info, input: RecordSlotEventsInput
    ) -> RecordSlotEventsPayload:
        principal = info.context.principal
        own = principal.member_id if isinstance(principal, MemberPrincipal) else None
        events = []
        for n, e in enumerate(input.events):
            member: int | None = own
            if own is not None:
                if e.member_id is not None and decode_id(str(e.member_id), "Member") != own:
                    raise DomainError("NOT_FOUND", "no such member", ["events", str(n), "memberId"])
            elif e.member_id is not None:
                member = id_for_lookup(e.member_id, "Member")
            events.append(
                tracking.SlotEventInput(
                    event_id=e.event_id,
                    slot=e.slot,
                    kind=e.kind.value,
                    member_id=member,
                    creative_id=id_for_lookup(e.creative_id, "SlotCreative"),
                    sku=e.sku,
                    occurred_at=e.occurred_at,
                )
            )
        done = await tracking.record_events(info.context.scope, events)
        return RecordSlotEventsPayload(recorded=done.recorded, replayed=done.replayed, errors=[])
