"""The banner slot kind: one creative (or a few, for a carousel) per member."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from tessera import BannerCreative, SlotData, SlotEntry, SlotKind, SlotMember, SlotNeeds


class BannerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int = Field(1, ge=1, le=10, description="Creatives shown at once (a carousel: >1).")


def in_window(creative: BannerCreative, now: datetime) -> bool:
    return (creative.starts_at is None or creative.starts_at <= now) and (
        creative.ends_at is None or now < creative.ends_at
    )


def in_audience(
    creative: BannerCreative, member: SlotMember | None, missing: frozenset[int] = frozenset()
) -> bool:
    kind = creative.audience_kind
    if kind == "everyone":
        return True
    if member is None:
        return False
    values = creative.audience_values
    if kind == "segment":
        return (
            creative.segment_id is not None
            and creative.segment_id not in missing
            and creative.segment_id in member.segments
        )
    if kind == "tags":
        return any(code in member.tags for code in values)
    if kind == "tier":
        return member.tier in values
    if kind == "lifecycle":
        return member.lifecycle_stage in values
    return False


def split_bucket(member_id: int | None, slot: str, group: str, total: int) -> int:
    """A member's fixed place in ``[0, total)`` for one A/B test: a hash, so it
    needs no stored assignment and never moves while the weights stay."""
    digest = hashlib.sha256(f"{slot}\x00{group}\x00{member_id or 0}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % total


def pick_variant(
    variants: Sequence[BannerCreative], member_id: int | None, slot: str
) -> BannerCreative:
    ordered = sorted(variants, key=lambda c: c.id)
    total = sum(max(c.split_weight, 1) for c in ordered)
    point = split_bucket(member_id, slot, ordered[0].split_group, total)
    for creative in ordered:
        point -= max(creative.split_weight, 1)
        if point < 0:
            return creative
    return ordered[-1]


def _reason(creative: BannerCreative) -> str:
    kind = creative.audience_kind
    if kind == "everyone":
        who = "everyone"
    elif kind == "segment":
        who = f"segment {creative.segment_id}"
    else:
        who = f"{kind} {', '.join(creative.audience_values)}"
    return f"audience {who}, priority {creative.priority}"


def choose(
    creatives: Sequence[BannerCreative],
    member: SlotMember | None,
    now: datetime,
    slot: str,
    *,
    count: int = 1,
    missing: frozenset[int] = frozenset(),
) -> list[SlotEntry]:
    """The highest-priority creatives whose audience and window hold the
    member (ties: the older creative); an A/B group counts as one creative
    and shows the member's variant. With none, the fallback in its window."""
    eligible = sorted(
        (
            c
            for c in creatives
            if not c.fallback and in_window(c, now) and in_audience(c, member, missing)
        ),
        key=lambda c: (-c.priority, c.id),
    )
    entries: list[SlotEntry] = []
    seen_groups: set[str] = set()
    for creative in eligible:
        if len(entries) >= count:
            break
        if creative.split_group:
            if creative.split_group in seen_groups:
                continue
            seen_groups.add(creative.split_group)
            variants = [
                c
                for c in eligible
                if c.split_group == creative.split_group and c.priority == creative.priority
            ]
            chosen = pick_variant(variants, member.id if member else None, slot)
            entries.append(
                SlotEntry(
                    str(chosen.id),
                    f"{_reason(chosen)}, A/B {chosen.split_group} variant {chosen.id}",
                    float(chosen.priority),
                    variant=f"{chosen.split_group}:{chosen.id}",
                )
            )
        else:
            entries.append(SlotEntry(str(creative.id), _reason(creative), float(creative.priority)))
    if entries:
        return entries
    fallbacks = sorted(
        (c for c in creatives if c.fallback and in_window(c, now)),
        key=lambda c: (-c.priority, c.id),
    )
    return [SlotEntry(str(c.id), "fallback", float(c.priority)) for c in fallbacks[:1]]


class BannerSlot(SlotKind):
    key = "slots.banner"
    title = "Banner"
    description = (
        "Shows the highest-priority creative whose audience (segment, tags, tier, lifecycle "
        "stage or everyone) and time window hold the member; A/B splits by a fixed hash of "
        "member and slot; a fallback when none does."
    )
    Config = BannerConfig
    content = "creatives"

    def needs(self) -> SlotNeeds:
        return SlotNeeds(member_facts=True, creatives=True)

    async def render(self, member: SlotMember | None, data: SlotData) -> list[SlotEntry]:
        config: BannerConfig = self.config  # type: ignore[assignment]
        return choose(
            data.creatives,
            member,
            data.now,
            data.slot,
            count=config.count,
            missing=data.missing_segments,
        )
