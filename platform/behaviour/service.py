"""Recording behaviour events, one at a time or in batches.

The vocabulary of types is open: any lower-case name is accepted, and
:data:`COMMON_TYPES` lists the ones frontends should use for the behaviours
DOMAIN.md names, so that tags, segments and reports agree on them. An event
never creates a member: one for an unknown member is refused.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.exceptions import IntegrityError

from tessera.behaviour.models import BehaviourEvent
from tessera.errors import DomainError
from tessera.idempotency import fingerprint
from tessera.members.merge import hold_off_merges, survivors
from tessera.members.models import Member
from tessera.members.profile import MemberStatus
from tessera.members.service import find_by_identities
from tessera.orders.inputs import (
    MemberRef,
    Problems,
    check_member,
    check_time,
    nest_error,
)
from tessera.scope import BrandScope
from tessera.uow import unit_of_work

COMMON_TYPES: dict[str, str] = {
    "view": "viewed a product or page (properties: sku, url)",
    "search": "searched (properties: query, results)",
    "favourite": "added a product to favourites (properties: sku)",
    "add_to_cart": "put a product in the cart (properties: sku, quantity)",
    "consult": "asked customer service or a shop assistant (properties: topic)",
    "pay": "paid; the order itself is recorded with recordOrder (properties: orderExternalId)",
    "store_visit": "visited a physical store (properties: storeCode)",
    "share": "shared a product or page (properties: sku, target)",
    "check_in": "checked in (properties: streak)",
}
TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_.]{0,63}$")
MAX_PROPERTIES_BYTES = 8192
MAX_BATCH = 1000


@dataclass(frozen=True)
class EventInput:
    event_id: str
    member: MemberRef
    type: str
    occurred_at: datetime
    properties: Any = None


@dataclass(frozen=True)
class EventResult:
    """The stored event; ``replayed`` when it had been recorded before."""

    event: BehaviourEvent
    replayed: bool = False


@dataclass(frozen=True)
class _Clean:
    event_id: str
    member: MemberRef
    type: str
    occurred_at: datetime
    properties: dict[str, Any]
    fingerprint: str


def _clean(event: EventInput, now: datetime, path: list[str]) -> _Clean:
    c = Problems()
    event_id = c.text(event.event_id, [*path, "eventId"], limit=128, required=True)
    check_member(c, event.member, path)
    if not TYPE_PATTERN.match(event.type or ""):
        c.add(
            "INVALID_TYPE",
            "type must be 1-64 lower-case letters, digits, '_' or '.', starting with a letter",
            [*path, "type"],
        )
    occurred_at = check_time(c, event.occurred_at, [*path, "occurredAt"], now)
    properties = {} if event.properties is None else event.properties
    if not isinstance(properties, dict):
        c.add("INVALID_PROPERTIES", "properties must be a JSON object", [*path, "properties"])
        properties = {}
    elif len(_json_bytes(properties)) > MAX_PROPERTIES_BYTES:
        c.add(
            "INVALID_PROPERTIES",
            f"properties must be at most {MAX_PROPERTIES_BYTES} bytes of JSON",
            [*path, "properties"],
        )
    c.raise_if_any()
    values = {"type": event.type, "at": occurred_at.isoformat(), "properties": properties}
    return _Clean(
        event_id or "", event.member, event.type, occurred_at, properties, fingerprint(values)
    )


async def record_event(
    scope: BrandScope, event: EventInput, *, now: datetime | None = None
) -> EventResult:
    """Record one event of a known member; idempotent on ``event_id``."""
    results = await _record(scope, [event], now or datetime.now(UTC), [])
    result = results[0]
    if isinstance(result, DomainError):
        raise result
    return result


async def record_events(
    scope: BrandScope, events: list[EventInput], *, now: datetime | None = None
) -> list[EventResult | DomainError]:
    """Record up to :data:`MAX_BATCH` events, each on its own: errors name
    ``["events", index, ...]``, and the valid ones are inserted together."""
    if len(events) > MAX_BATCH:
        raise DomainError("BATCH_TOO_LARGE", f"a batch has at most {MAX_BATCH} events", ["events"])
    return await _record(scope, events, now or datetime.now(UTC), ["events"])


async def _record(
    scope: BrandScope, events: list[EventInput], now: datetime, prefix: list[str]
) -> list[EventResult | DomainError]:
    def path(i: int) -> list[str]:
        return [*prefix, str(i)] if prefix else []

    results: list[EventResult | DomainError | None] = [None] * len(events)
    cleaned: dict[int, _Clean] = {}
    for i, event in enumerate(events):
        try:
            cleaned[i] = _clean(event, now, path(i))
        except DomainError as error:
            results[i] = error
    existing = {
        e.event_id: e
        for e in await scope.query(BehaviourEvent).filter(
            event_id__in={c.event_id for c in cleaned.values()}
        )
    }
    members = await _members(scope, cleaned, path, results)
    fresh: dict[int, _Clean] = {}
    taken: set[str] = set()
    repeats: list[int] = []
    for i, clean in cleaned.items():
        if results[i] is not None:
            continue
        stored = existing.get(clean.event_id)
        if stored is not None:
            results[i] = _replay(stored, clean, members[i], path(i))
        elif clean.event_id in taken:
            repeats.append(i)
        else:
            taken.add(clean.event_id)
            fresh[i] = clean
    try:
        stored_events = await _insert(scope, fresh, members)
        for i, stored in stored_events.items():
            results[i] = EventResult(stored)
    except IntegrityError:
        # A concurrent writer recorded one of these ids: settle each alone.
        repeats = sorted([*fresh, *repeats])
    for i in repeats:
        results[i] = await _record_alone(scope, cleaned[i], members[i], path(i))
    return [r for r in results if r is not None]


async def _members(
    scope: BrandScope,
    cleaned: dict[int, _Clean],
    path: Any,
    results: list[Any],
) -> dict[int, int]:
    """The member id of each event; unknown members are an error of their item."""
    ids = {c.member.member_id for c in cleaned.values() if c.member.member_id is not None}
    # An erased member's id is no one's any more: their events are not recorded.
    known = set(
        await scope.query(Member)
        .filter(id__in=ids)
        .exclude(status=MemberStatus.ERASED.value)
        .values_list("id", flat=True)
    )
    by_identity = await find_by_identities(
        scope,
        [c.member.identity or ("", "") for c in cleaned.values() if c.member.member_id is None],
    )
    found: dict[int, int] = {}
    for i, clean in cleaned.items():
        ref = clean.member
        if ref.member_id is not None:
            if ref.member_id in known:
                found[i] = ref.member_id
                continue
            field = "memberId"
        else:
            member = by_identity[ref.identity or ("", "")]
            if isinstance(member, DomainError):
                results[i] = nest_error(member, path(i), member_field="identity")
                continue
            if member is not None:
                found[i] = member.id
                continue
            field = "identity"
        results[i] = DomainError(
            "UNKNOWN_MEMBER", "no such member (events never create members)", [*path(i), field]
        )
    return found


def _replay(
    stored: BehaviourEvent, clean: _Clean, member_id: int, path: list[str]
) -> EventResult | DomainError:
    if stored.fingerprint != clean.fingerprint or stored.member_id != member_id:
        return DomainError(
            "IDEMPOTENCY_CONFLICT",
            f"event {clean.event_id!r} was recorded before with other details",
            [*path, "eventId"],
        )
    return EventResult(stored, replayed=True)


async def _insert(
    scope: BrandScope, fresh: dict[int, _Clean], members: dict[int, int]
) -> dict[int, BehaviourEvent]:
    if not fresh:
        return {}
    async with unit_of_work(scope) as uow:
        conn = uow.connection
        # A member merged meanwhile (or before) gets its events on the survivor.
        await hold_off_merges(scope, conn)
        moved = await survivors(scope, conn, {members[i] for i in fresh})
        members = {i: moved.get(m, m) for i, m in members.items()}
        rows = [scope.build(BehaviourEvent, **_values(c, members[i])) for i, c in fresh.items()]
        if len(rows) == 1:
            await rows[0].save(using_db=conn)
            by_id = {rows[0].event_id: rows[0]}
        else:
            await scope.insert_many(BehaviourEvent, rows, conn)
            by_id = {
                e.event_id: e
                for e in await scope.query(BehaviourEvent)
                .using_db(conn)
                .filter(event_id__in=[c.event_id for c in fresh.values()])
            }
        for event in by_id.values():
            uow.emit(
                "event.recorded",
                event_id=event.id,
                external_id=event.event_id,
                member_id=event.member_id,
                type=event.type,
                occurred_at=event.occurred_at.isoformat(),
            )
    return {i: by_id[c.event_id] for i, c in fresh.items()}


async def _record_alone(
    scope: BrandScope, clean: _Clean, member_id: int, path: list[str]
) -> EventResult | DomainError:
    try:
        stored = await _insert(scope, {0: clean}, {0: member_id})
        return EventResult(stored[0])
    except IntegrityError:
        existing = await scope.query(BehaviourEvent).get_or_none(event_id=clean.event_id)
        if existing is None:
            raise
        return _replay(existing, clean, member_id, path)


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _values(clean: _Clean, member_id: int) -> dict[str, Any]:
    return {
        "member_id": member_id,
        "event_id": clean.event_id,
        "type": clean.type,
        "occurred_at": clean.occurred_at,
        "properties": clean.properties,
        "fingerprint": clean.fingerprint,
    }
