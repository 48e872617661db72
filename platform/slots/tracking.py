"""Impressions and clicks of slots, recorded in batches from members' apps,
and the click-through per banner variant with a Wilson interval (the A/B
comparison). Aggregates are computed in SQL."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.functions import Count

from tessera.errors import DomainError, DomainErrors
from tessera.features.models import BrandFeature
from tessera.members.models import Member
from tessera.plugin_host.components import ComponentFamily
from tessera.scope import BrandScope
from tessera.slots.models import SlotCreative, SlotEvent
from tessera.uow import unit_of_work

MAX_EVENTS = 500
KINDS = ("impression", "click")
EVENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
# 95% two-sided.
Z = 1.959963984540054


@dataclass(frozen=True)
class SlotEventInput:
    event_id: str
    slot: str
    kind: str
    member_id: int | None
    creative_id: int | None = None
    sku: str | None = None
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class Recorded:
    recorded: int
    replayed: int


async def record_events(scope: BrandScope, events: Sequence[SlotEventInput]) -> Recorded:
    """Record a batch; an event id already recorded is a replay and changes
    nothing. Any invalid event refuses the whole batch, naming it."""
    if not events:
        return Recorded(0, 0)
    if len(events) > MAX_EVENTS:
        raise DomainError("TOO_MANY", f"at most {MAX_EVENTS} events per call", ["events"])
    now = datetime.now(UTC)
    problems: list[DomainError] = []
    slots = {e.slot for e in events}
    known_slots = set(
        await scope.query(BrandFeature)
        .filter(family=ComponentFamily.SLOT_KIND.value, instance__in=slots)
        .values_list("instance", flat=True)
    )
    creative_ids = {e.creative_id for e in events if e.creative_id is not None}
    known_creatives = (
        dict(await scope.query(SlotCreative).filter(id__in=creative_ids).values_list("id", "slot"))
        if creative_ids
        else {}
    )
    member_ids = {e.member_id for e in events if e.member_id is not None}
    known_members = (
        set(await scope.query(Member).filter(id__in=member_ids).values_list("id", flat=True))
        if member_ids
        else set()
    )
    seen: set[str] = set()
    for n, e in enumerate(events):
        at = ["events", str(n)]
        if not EVENT_ID.match(e.event_id):
            problems.append(
                DomainError(
                    "INVALID", "1-64 letters, digits, '_', '.', ':' or '-'", [*at, "eventId"]
                )
            )
        if e.kind not in KINDS:
            problems.append(DomainError("INVALID", "impression or click", [*at, "kind"]))
        if e.slot not in known_slots:
            problems.append(DomainError("NOT_FOUND", "no such slot", [*at, "slot"]))
        if e.creative_id is not None and known_creatives.get(e.creative_id) != e.slot:
            problems.append(DomainError("NOT_FOUND", "no such slot creative", [*at, "creativeId"]))
        if e.member_id is not None and e.member_id not in known_members:
            problems.append(DomainError("NOT_FOUND", "no such member", [*at, "memberId"]))
        if e.occurred_at is not None and (
            e.occurred_at.tzinfo is None or e.occurred_at > now + timedelta(minutes=5)
        ):
            problems.append(
                DomainError(
                    "INVALID_TIME", "needs an offset, not in the future", [*at, "occurredAt"]
                )
            )
        seen.add(e.event_id)
    if problems:
        raise DomainErrors(problems)
    unique = list({e.event_id: e for e in events}.values())
    async with unit_of_work(scope) as uow:
        existing = set(
            await scope.query(SlotEvent)
            .using_db(uow.connection)
            .filter(event_id__in=[e.event_id for e in unique])
            .values_list("event_id", flat=True)
        )
        fresh = [e for e in unique if e.event_id not in existing]
        await scope.insert_many(
            SlotEvent,
            [
                scope.build(
                    SlotEvent,
                    event_id=e.event_id,
                    slot=e.slot,
                    kind=e.kind,
                    creative_id=e.creative_id,
                    sku=e.sku,
                    member_id=e.member_id,
                    occurred_at=e.occurred_at or now,
                )
                for e in fresh
            ],
            using_db=uow.connection,
            # A concurrent batch with the same ids: the unique key decides.
            ignore_conflicts=True,
        )
    return Recorded(len(fresh), len(events) - len(fresh))


def wilson(successes: int, trials: int, z: float = Z) -> tuple[float, float]:
    """The Wilson score interval of a proportion (sound at small counts and
    at 0% or 100%, unlike the normal approximation)."""
    if trials <= 0:
        return (0.0, 1.0)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    margin = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return (max(0.0, centre - margin), min(1.0, centre + margin))


@dataclass(frozen=True)
class VariantResult:
    creative_id: int
    split_group: str
    impressions: int
    clicks: int

    @property
    def click_through(self) -> float:
        return self.clicks / self.impressions if self.impressions else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        return wilson(min(self.clicks, self.impressions), self.impressions)


async def slot_results(scope: BrandScope, slot: str) -> list[VariantResult]:
    """Impressions, clicks and click-through per creative of ``slot``."""
    rows = (
        await scope.query(SlotEvent)
        .filter(slot=slot, creative_id__not_isnull=True)
        .annotate(n=Count("id"))
        .group_by("creative_id", "kind")
        .values_list("creative_id", "kind", "n")
    )
    counts: dict[int, dict[str, int]] = {}
    for creative_id, kind, n in rows:
        counts.setdefault(int(creative_id), {})[str(kind)] = int(n)
    groups = dict(
        await scope.query(SlotCreative).filter(slot=slot).values_list("id", "split_group")
    )
    ids = sorted(set(groups) | set(counts))
    return [
        VariantResult(
            i,
            str(groups.get(i, "")),
            counts.get(i, {}).get("impression", 0),
            counts.get(i, {}).get("click", 0),
        )
        for i in ids
    ]
