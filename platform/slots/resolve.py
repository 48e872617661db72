"""Resolving a slot for a member: the page-view read (DESIGN.md, "Speed of
the GraphQL layer"). Only stored rows are read, in a constant number of small
queries whatever the catalogue or history size; the kind decides in memory."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tortoise.expressions import Q, Subquery

from tessera import runtime
from tessera.errors import DomainError
from tessera.features.models import BrandFeature
from tessera.features.service import load_config
from tessera.members.models import Member
from tessera.orders.models import OrderLine
from tessera.plugin_host.components import (
    BannerCreative,
    ComponentFamily,
    ItemFacts,
    ItemScore,
    SlotData,
    SlotEntry,
    SlotKind,
    SlotMember,
    SlotNeeds,
)
from tessera.rewards.facts import brand_info
from tessera.scope import BrandScope
from tessera.segments.models import MemberLifecycle, Segment, SegmentMembership
from tessera.slots.models import (
    CatalogueItem,
    ItemNeighbour,
    ItemPopularity,
    MemberCluster,
    SlotCreative,
)
from tessera.tags.models import TagAssignment
from tessera.tiers.models import MemberTierState

log = logging.getLogger("tessera.slots")

# The latest order lines that make "what the member just bought": their
# skus are filtered out and seed the co-purchase neighbours.
RECENT_LINES = 30
# Neighbours are read for this many of the newest distinct skus.
SEED_SKUS = 10


@dataclass(frozen=True)
class Resolution:
    """A resolved slot: the kind's entries and the stored rows they name."""

    feature: BrandFeature
    kind: type[SlotKind]
    entries: list[SlotEntry]
    creatives: Mapping[int, SlotCreative] = field(default_factory=dict)
    items: Mapping[str, ItemFacts] = field(default_factory=dict)
    error: str | None = None


async def slot_feature(
    scope: BrandScope,
    slot: str,
    field: str = "key",
    *,
    member_id: int | None = None,
    member_field: str = "memberId",
) -> BrandFeature:
    """The enabled slot named ``slot``; NOT_FOUND at ``field`` otherwise.
    With ``member_id``, also NOT_FOUND at ``member_field`` when the brand has
    no such member: checked by a subquery in the same statement, because a
    page view pays one round trip per query (DESIGN.md, "Speed of the
    GraphQL layer")."""
    query = scope.query(BrandFeature).filter(
        family=ComponentFamily.SLOT_KIND.value, instance=slot, enabled=True
    )
    if member_id is not None:
        query = query.annotate(
            member_found=Subquery(scope.query(Member).filter(id=member_id).limit(1).values("id"))
        )
    feature = await query.first()
    if feature is None or runtime.current().host.component(feature.component_key) is None:
        raise DomainError("NOT_FOUND", "no such slot", [field])
    if member_id is not None and getattr(feature, "member_found", None) is None:
        raise DomainError("NOT_FOUND", "no such member", [member_field])
    return feature


def creative_facts(row: SlotCreative) -> BannerCreative:
    return BannerCreative(
        id=row.id,
        title=row.title,
        image_url=row.image_url,
        link=row.link,
        alt_text=row.alt_text,
        audience_kind=row.audience_kind,
        audience_values=tuple(row.audience_values or ()),
        segment_id=row.segment_id,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        priority=row.priority,
        split_group=row.split_group,
        split_weight=row.split_weight,
        fallback=row.fallback,
    )


def _ints(values: Any) -> list[int]:
    """``values_list(..., flat=True)``'s values (typed as tuples by Tortoise)."""
    return [int(v) for v in values]


async def _member_facts(
    scope: BrandScope, member_id: int, now: datetime, wanted: set[str]
) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    if "tags" in wanted:
        codes = (
            await scope.query(TagAssignment)
            .filter(member_id=member_id)
            .filter(Q(expires_at=None) | Q(expires_at__gt=now))
            .values_list("tag__code", flat=True)
        )
        facts["tags"] = frozenset(str(c) for c in codes)
    if "tier" in wanted:
        tier = (
            await scope.query(MemberTierState)
            .filter(member_id=member_id)
            .values_list("tier__code", flat=True)
        )
        facts["tier"] = str(tier[0]) if tier and tier[0] else None
    if "lifecycle" in wanted:
        stage = (
            await scope.query(MemberLifecycle)
            .filter(member_id=member_id)
            .values_list("stage", flat=True)
        )
        facts["lifecycle_stage"] = str(stage[0]) if stage else None
    if "segment" in wanted:
        ids = (
            await scope.query(SegmentMembership)
            .filter(member_id=member_id)
            .values_list("segment_id", flat=True)
        )
        facts["segments"] = frozenset(_ints(ids))
    if "cluster" in wanted:
        cluster = (
            await scope.query(MemberCluster)
            .filter(member_id=member_id)
            .values_list("cluster", flat=True)
        )
        facts["cluster"] = _ints(cluster)[0] if cluster else None
    return facts


async def _purchases(scope: BrandScope, member_id: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    lines = (
        await scope.query(OrderLine)
        .filter(order__member_id=member_id)
        .order_by("-order__occurred_at", "-order_id", "line_no")
        .limit(RECENT_LINES)
        .values_list("sku", "category", "quantity")
    )
    skus = tuple(dict.fromkeys(str(sku) for sku, _, _ in lines))
    bought: dict[str, int] = {}
    for _, category, quantity in lines:
        if category:
            bought[str(category)] = bought.get(str(category), 0) + int(quantity)
    categories = tuple(c for c, _ in sorted(bought.items(), key=lambda kv: (-kv[1], kv[0])))
    return skus, categories


def _audience_kinds(creatives: Iterable[SlotCreative]) -> set[str]:
    return {c.audience_kind for c in creatives if not c.fallback}


async def resolve(
    scope: BrandScope,
    slot: str,
    member_id: int | None,
    *,
    now: datetime | None = None,
    field: str = "key",
    member_field: str = "memberId",
) -> Resolution:
    """Resolve ``slot`` for ``member_id`` (None: no member, e.g. a preview
    of what everyone sees). NOT_FOUND for an unknown slot or member."""
    rt = runtime.current()
    now = now or datetime.now(UTC)
    feature = await slot_feature(scope, slot, field, member_id=member_id, member_field=member_field)
    registered = rt.host.component(feature.component_key)
    assert registered is not None  # slot_feature checked
    kind_cls: type[SlotKind] = registered.cls  # type: ignore[assignment]
    kind = kind_cls(load_config(kind_cls, feature, rt.settings))
    needs: SlotNeeds = kind.needs()

    creatives: list[SlotCreative] = []
    missing: frozenset[int] = frozenset()
    wanted: set[str] = set()
    if needs.creatives:
        creatives = await scope.query(SlotCreative).filter(slot=slot)
        wanted = _audience_kinds(creatives) - {"everyone"}
        referenced = {c.segment_id for c in creatives if c.segment_id is not None}
        if referenced:
            existing = (
                await scope.query(Segment).filter(id__in=referenced).values_list("id", flat=True)
            )
            missing = frozenset(referenced - set(_ints(existing)))
    elif needs.member_facts:
        wanted = {"tags", "tier", "lifecycle", "segment", "cluster"}

    member: SlotMember | None = None
    if member_id is not None:
        facts = await _member_facts(scope, member_id, now, wanted)
        if needs.purchases:
            facts["recent_skus"], facts["categories"] = await _purchases(scope, member_id)
        member = SlotMember(id=member_id, **facts)

    neighbours: tuple[ItemScore, ...] = ()
    if needs.neighbours and member is not None and member.recent_skus:
        rows = (
            await scope.query(ItemNeighbour)
            .filter(sku__in=member.recent_skus[:SEED_SKUS], rank__lte=needs.depth)
            .values_list("sku", "neighbour", "score", "together")
        )
        neighbours = tuple(
            ItemScore(str(n), float(s), of=str(sku), count=int(t)) for sku, n, s, t in rows
        )

    popular: dict[str, tuple[ItemScore, ...]] = {}
    if needs.popular:
        audiences = [""]
        if member is not None:
            audiences += [f"segment:{s}" for s in member.segments]
            if member.cluster is not None:
                audiences.append(f"cluster:{member.cluster}")
        rows = (
            await scope.query(ItemPopularity)
            .filter(scope__in=audiences, rank__lte=needs.depth)
            .order_by("scope", "rank")
            .values_list("scope", "sku", "score", "category", "buyers")
        )
        grouped: dict[str, list[ItemScore]] = {}
        for audience, sku, score, category, buyers in rows:
            grouped.setdefault(str(audience), []).append(
                ItemScore(str(sku), float(score), category=category, count=int(buyers))
            )
        popular = {k: tuple(v) for k, v in grouped.items()}

    items: dict[str, ItemFacts] = {}
    skus = {n.sku for n in neighbours} | {s.sku for v in popular.values() for s in v}
    selection = needs.items
    if skus or selection is not None:
        condition = Q(sku__in=sorted(skus)) if skus else Q(id__lt=0)
        if selection is not None:
            if selection.skus:
                condition |= Q(sku__in=list(selection.skus))
            if selection.categories:
                condition |= Q(category__in=list(selection.categories), active=True)
            for tag in selection.tags:
                condition |= Q(tag_text__contains=f",{tag},", active=True)
        # Plain tuples: hundreds of candidate rows as model instances would
        # cost more than the rest of the request.
        found = (
            await scope.query(CatalogueItem)
            .filter(condition)
            .values_list("sku", "name", "category", "tags", "price", "active")
        )
        items = {
            str(sku): ItemFacts(
                str(sku), str(name), category, tuple(tags or ()), price, bool(active)
            )
            for sku, name, category, tags, price, active in found
        }

    data = SlotData(
        slot=slot,
        now=now,
        brand=brand_info(scope),
        creatives=tuple(creative_facts(c) for c in creatives),
        missing_segments=missing,
        neighbours=neighbours,
        popular=popular,
        items=items,
    )
    error: str | None = None
    entries: list[SlotEntry] = []
    try:
        entries = list(await kind.render(member, data))
    except DomainError as exc:
        error = exc.message
    except Exception as exc:  # a broken plugin shows nothing, never a 500
        log.exception("slot kind %s failed on slot %s", feature.component_key, slot)
        error = f"{type(exc).__name__}: {exc}"
    if error is None and missing:
        lost = sorted(c.id for c in creatives if c.segment_id in missing)
        error = (
            f"creatives {', '.join(map(str, lost))} target deleted segments "
            f"{', '.join(map(str, sorted(missing)))} and are not shown"
        )
    await _note_error(scope, feature, error, now)
    return Resolution(
        feature,
        kind_cls,
        entries,
        creatives={c.id: c for c in creatives},
        items=items,
        error=error,
    )


async def _note_error(
    scope: BrandScope, feature: BrandFeature, error: str | None, now: datetime
) -> None:
    """Keep the slot's ``lastError`` in step; written only when it changes,
    so a healthy slot's page views never write."""
    if feature.last_error == error:
        return
    await (
        scope.query(BrandFeature)
        .filter(id=feature.id)
        .update(last_error=error, last_error_at=now if error else None)
    )
    feature.last_error = error
    feature.last_error_at = now if error else None
