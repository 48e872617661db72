"""Banner creatives of a brand's slots: validation and CRUD (docs/slots.md).

Every input is checked before anything is written, and every problem is
reported with its field: a refused creative changes nothing."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from tortoise.queryset import QuerySet

from tessera import runtime
from tessera.errors import DomainError, DomainErrors
from tessera.scope import BrandScope
from tessera.segments.models import Segment
from tessera.segments.rules import LifecycleStage
from tessera.slots.models import SlotCreative
from tessera.slots.resolve import slot_feature
from tessera.tags.models import Tag
from tessera.tiers.models import TierDefinition
from tessera.uow import unit_of_work

AUDIENCE_KINDS = ("everyone", "segment", "tags", "tier", "lifecycle")
SPLIT_GROUP = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MAX_VALUES = 50
LIMITS = {"title": 200, "image_url": 2000, "link": 2000, "alt_text": 500}
CAMEL = {
    "title": "title",
    "image_url": "imageUrl",
    "link": "link",
    "alt_text": "altText",
    "starts_at": "startsAt",
    "ends_at": "endsAt",
    "priority": "priority",
    "split_group": "splitGroup",
    "split_weight": "splitWeight",
    "fallback": "fallback",
}


@dataclass(frozen=True)
class Audience:
    """Who a creative is for: ``kind`` and its ``values`` (tag codes, tier
    codes, lifecycle stages) or ``segment_id``."""

    kind: str = "everyone"
    values: tuple[str, ...] = ()
    segment_id: int | None = None


def creatives(scope: BrandScope, slot: str | None = None) -> QuerySet[SlotCreative]:
    query = scope.query(SlotCreative)
    return query.filter(slot=slot) if slot is not None else query


async def require_creative(
    scope: BrandScope, creative_id: int | None, field: str = "id"
) -> SlotCreative:
    found = await scope.get(SlotCreative, creative_id) if creative_id else None
    if found is None:
        raise DomainError("NOT_FOUND", "no such slot creative", [field])
    return found


def _text(name: str, value: Any, problems: list[DomainError]) -> str:
    text = str(value or "").strip()
    if not text:
        problems.append(DomainError("REQUIRED", f"{CAMEL[name]} is required", [CAMEL[name]]))
    elif len(text) > LIMITS[name]:
        problems.append(
            DomainError("TOO_LONG", f"at most {LIMITS[name]} characters", [CAMEL[name]])
        )
    return text


def _url(name: str, value: Any, problems: list[DomainError], *, relative: bool) -> str:
    """http(s) only (and, for links, a path on the brand's own site): a
    ``javascript:`` or ``data:`` URL in a banner would run in the shop's page."""
    text = _text(name, value, problems)
    if not text:
        return text
    parts = urlsplit(text)
    if relative and text.startswith("/") and not text.startswith("//"):
        return text
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        allowed = "an http(s) URL or a path starting with /" if relative else "an http(s) URL"
        problems.append(DomainError("UNSAFE_URL", f"must be {allowed}", [CAMEL[name]]))
    return text


def _localise(moment: datetime | None, timezone: str) -> datetime | None:
    """A time without offset is the brand's wall-clock time."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=ZoneInfo(timezone))


async def _check_audience(
    scope: BrandScope, audience: Audience, problems: list[DomainError]
) -> dict[str, Any]:
    kind = audience.kind
    base = ["audience"]
    if kind not in AUDIENCE_KINDS:
        problems.append(
            DomainError("INVALID", f"one of {', '.join(AUDIENCE_KINDS)}", [*base, "kind"])
        )
        return {}
    values = [str(v).strip() for v in audience.values if str(v).strip()]
    if kind == "everyone":
        return {"audience_kind": kind, "audience_values": [], "segment_id": None}
    if kind == "segment":
        segment_id = audience.segment_id
        if segment_id is None or not await scope.query(Segment).filter(id=segment_id).exists():
            problems.append(DomainError("NOT_FOUND", "no such segment", [*base, "segmentId"]))
        return {"audience_kind": kind, "audience_values": [], "segment_id": segment_id}
    if not values:
        problems.append(DomainError("REQUIRED", f"give the {kind} to target", [*base, "values"]))
        return {}
    if len(values) > MAX_VALUES:
        problems.append(DomainError("TOO_MANY", f"at most {MAX_VALUES}", [*base, "values"]))
        return {}
    known: set[Any]
    if kind == "tags":
        known = set(await scope.query(Tag).filter(code__in=values).values_list("code", flat=True))
    elif kind == "tier":
        known = set(
            await scope.query(TierDefinition).filter(code__in=values).values_list("code", flat=True)
        )
    else:
        known = {s.value for s in LifecycleStage}
    unknown = [v for v in values if v not in known]
    if unknown:
        problems.append(
            DomainError("NOT_FOUND", f"unknown {kind}: {', '.join(unknown)}", [*base, "values"])
        )
    return {"audience_kind": kind, "audience_values": sorted(set(values)), "segment_id": None}


async def _clean(
    scope: BrandScope,
    values: Mapping[str, Any],
    audience: Audience | None,
    current: SlotCreative | None,
) -> dict[str, Any]:
    problems: list[DomainError] = []
    clean: dict[str, Any] = {}
    for name in ("title", "alt_text"):
        if name in values or current is None:
            clean[name] = _text(name, values.get(name), problems)
    if "image_url" in values or current is None:
        clean["image_url"] = _url("image_url", values.get("image_url"), problems, relative=False)
    if "link" in values or current is None:
        clean["link"] = _url("link", values.get("link"), problems, relative=True)
    timezone = scope.brand.timezone
    for name in ("starts_at", "ends_at"):
        if name in values:
            clean[name] = _localise(values[name], timezone)
    starts = clean.get("starts_at", current.starts_at if current else None)
    ends = clean.get("ends_at", current.ends_at if current else None)
    if starts is not None and ends is not None and ends <= starts:
        problems.append(DomainError("INVALID", "endsAt must be after startsAt", ["endsAt"]))
    if values.get("priority") is not None:
        priority = int(values["priority"])
        if not -1_000_000 <= priority <= 1_000_000:
            problems.append(DomainError("OUT_OF_RANGE", "from -1000000 to 1000000", ["priority"]))
        clean["priority"] = priority
    if values.get("split_group") is not None:
        group = str(values["split_group"]).strip()
        if group and not SPLIT_GROUP.match(group):
            problems.append(
                DomainError(
                    "INVALID",
                    "1-64 lower-case letters, digits, '-' or '_'",
                    ["splitGroup"],
                )
            )
        clean["split_group"] = group
    if values.get("split_weight") is not None:
        weight = int(values["split_weight"])
        if not 1 <= weight <= 100:
            problems.append(DomainError("OUT_OF_RANGE", "from 1 to 100", ["splitWeight"]))
        clean["split_weight"] = weight
    if values.get("fallback") is not None:
        clean["fallback"] = bool(values["fallback"])
    if audience is not None:
        clean.update(await _check_audience(scope, audience, problems))
    if problems:
        raise DomainErrors(problems)
    return clean


async def create_creative(
    scope: BrandScope, slot: str, values: Mapping[str, Any], audience: Audience | None = None
) -> SlotCreative:
    """A new creative on a banner slot. ``values`` by model field name."""
    feature = await slot_feature(scope, slot, "slot")
    registered = runtime.current().host.component(feature.component_key)
    if registered is None or getattr(registered.cls, "content", "") != "creatives":
        raise DomainError("INVALID", "this slot's kind shows no creatives", ["slot"])
    clean = await _clean(scope, values, audience or Audience(), None)
    async with unit_of_work(scope) as uow:
        row = await scope.create(SlotCreative, using_db=uow.connection, slot=slot, **clean)
    return row


async def update_creative(
    scope: BrandScope, creative_id: int, values: Mapping[str, Any], audience: Audience | None
) -> SlotCreative:
    """Change what is given (``values`` by model field name; absent keys stay)."""
    row = await require_creative(scope, creative_id)
    clean = await _clean(scope, values, audience, row)
    if clean:
        async with unit_of_work(scope) as uow:
            await creatives(scope).using_db(uow.connection).filter(id=row.id).update(**clean)
        row = await require_creative(scope, row.id)
    return row


async def delete_creative(scope: BrandScope, creative_id: int) -> SlotCreative:
    row = await require_creative(scope, creative_id)
    async with unit_of_work(scope) as uow:
        await creatives(scope).using_db(uow.connection).filter(id=row.id).delete()
    return row
