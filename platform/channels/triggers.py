"""Triggered messages: a brand's rules ("when a member joins, send the
welcome email") turned into sends through the gate.

Registered in :data:`tessera.uow.FOLLOW_UPS`: a unit of work whose events
match an active rule writes, in its own transaction, one ``channels_trigger``
outbox entry per (rule, member), carrying a fresh id; so a committed event is
never lost before its message, and a rolled-back one sends nothing. The job
submits the message with the idempotency key ``trigger:<rule>:<id>``: run
twice (an expired lease, a killed worker), it finds the first message.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tessera.channels import gate
from tessera.channels.models import TriggerRule
from tessera.errors import DomainError
from tessera.outbox.store import FollowUp
from tessera.plugin_host.events import DomainEvent
from tessera.scope import BrandScope
from tessera.uow import UnitOfWork, unit_of_work
from tessera.webhooks.triggers import scope_of

TRIGGER_JOB = "channels_trigger"

# What a rule can wait for, and what it means.
TRIGGERS: dict[str, str] = {
    "member.joined": "a member joined (welcome)",
    "points.earned": "a member earned points",
    "points.expiring_soon": "a member's points lapse within the warning window",
    "coupon.issued": "a coupon was issued to a member",
    "tier.up": "a member moved up a tier",
    "tier.down": "a member moved down a tier",
    "segment.entered": "a member entered a segment (the rule may name one)",
    "birthday": "a member's birthday, from 9:00 of the brand's day",
}


# Whether a brand has an active trigger rule, as this process last read it
# (monotonic deadline, answer): most units of work (every order earns points)
# then cost no query. A rule made in this process is seen at once
# (``forget``), in others within ``ACTIVE_CHECK_S``.
ACTIVE_CHECK_S = 10.0
_has_rules: dict[int, tuple[float, bool]] = {}
_clock = time.monotonic


def forget(brand_id: int | None = None) -> None:
    """Read the brand's (or every brand's) rules again at its next event."""
    if brand_id is None:
        _has_rules.clear()
    else:
        _has_rules.pop(brand_id, None)


async def _any_rules(uow: UnitOfWork) -> bool:
    brand_id, now = uow.scope.brand_id, _clock()
    known = _has_rules.get(brand_id)
    if known is not None and known[0] > now:
        return known[1]
    found = await uow.scope.query(TriggerRule).using_db(uow.connection).filter(active=True).exists()
    _has_rules[brand_id] = (now + ACTIVE_CHECK_S, found)
    return found


def _member(value: Any) -> int | None:
    # Events a plugin or a test emits may carry anything: not ours to refuse.
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _matches(event: DomainEvent) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """(trigger, member id, extra variables) for each member the event is about."""
    data = event.payload
    name = event.name
    member_id = _member(data.get("member_id"))
    trigger: str | None = None
    extra: dict[str, Any] = {}
    if name == "member.joined" and not data.get("imported"):
        trigger = name
    elif name == "points.changed" and data.get("entry_type") == "earn":
        delta = data.get("delta")
        if isinstance(delta, int) and delta > 0:
            trigger, extra = "points.earned", {"points_earned": delta}
    elif name == "points.expiring_soon":
        trigger = name
    elif name == "coupon.issued":
        trigger, extra = name, {"coupon_id": _member(data.get("coupon_id"))}
    elif name == "tier.changed" and data.get("reason") in ("upgrade", "downgrade"):
        trigger = "tier.up" if data["reason"] == "upgrade" else "tier.down"
    elif name == "segment.entered":
        for one in data.get("member_ids") or []:
            if _member(one) is not None:
                yield name, one, {"segment_id": data.get("segment_id")}
        return
    if trigger is not None and member_id is not None:
        yield trigger, member_id, extra


async def follow_ups(events: list[DomainEvent], uow: UnitOfWork) -> list[FollowUp]:
    known = _has_rules.get(uow.scope.brand_id)
    if known is not None and known[0] > _clock() and not known[1]:
        # Known to have no rule: a batch's thousands of events go unread.
        return []
    found = [
        (event, trigger, member_id, extra)
        for event in events
        if event.brand_id == uow.scope.brand_id
        for trigger, member_id, extra in _matches(event)
    ]
    if not found or not await _any_rules(uow):
        return []
    rules = await (
        uow.scope.query(TriggerRule)
        .using_db(uow.connection)
        .filter(active=True, event__in=sorted({t for _, t, _, _ in found}))
    )
    work = []
    for event, trigger, member_id, extra in found:
        for rule in rules:
            if rule.event != trigger:
                continue
            if rule.segment_id is not None and extra.get("segment_id") != rule.segment_id:
                continue
            variables = {k: v for k, v in extra.items() if k == "coupon_id"}
            variables["event"] = {"name": event.name, **_plain(event.payload), **extra}
            work.append(
                FollowUp(
                    TRIGGER_JOB,
                    (uow.scope.brand_id, rule.id, member_id, str(uuid.uuid4()), variables),
                )
            )
    return work


def _plain(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if isinstance(v, (str, int, float, bool)) or v is None}


async def channels_trigger(
    ctx: dict[str, Any],
    brand_id: int,
    rule_id: int,
    member_id: int,
    occurrence: str,
    variables: dict[str, Any],
) -> str:
    """Submit one triggered message through the gate; returns its status."""
    scope = await scope_of(brand_id)
    rule = await scope.get(TriggerRule, rule_id) if scope else None
    if scope is None or rule is None or not rule.active:
        return "gone"
    now = datetime.now(UTC)
    request = gate.SendRequest(
        member_id=member_id,
        template_id=rule.template_id,
        purpose=rule.purpose,
        source=f"trigger:{rule.event}",
        idempotency_key=f"trigger:{rule.id}:{occurrence}",
        variables=variables,
        not_before=now + timedelta(minutes=rule.delay_minutes),
    )
    try:
        async with unit_of_work(scope) as uow:
            message = await gate.submit(uow, request, now)
    except DomainError as gone:
        if gone.code == "NOT_FOUND":
            return "gone"  # the member (or template) was deleted meanwhile
        raise
    return message.status.value


# Birthday messages go from this brand-local hour on (not at midnight); the
# idempotency key makes it once a year, whichever hourly run gets there first.
BIRTHDAY_HOUR = 9


async def channels_birthdays(ctx: dict[str, Any], now: datetime | None = None) -> int:
    """Cron (hourly): for each brand with an active ``birthday`` rule, from
    9:00 of its day, submit the birthday message of every member whose
    birthday it is (29 February: 1 March in common years); returns how many
    messages were decided."""
    from tessera.members.models import Member
    from tessera.rewards.jobs import _birth_dates_celebrated_on
    from tessera.tenancy.models import Brand

    now = now or datetime.now(UTC)
    decided = 0
    brand_ids = (
        await TriggerRule.filter(event="birthday", active=True)
        .distinct()
        .values_list("brand_id", flat=True)
    )
    for brand in await Brand.filter(id__in=list(brand_ids)).order_by("id"):
        local = now.astimezone(ZoneInfo(brand.timezone))
        if local.hour < BIRTHDAY_HOUR:
            continue
        scope = BrandScope(brand)
        rules = await scope.query(TriggerRule).filter(event="birthday", active=True)
        members: list[int] = await (
            scope.query(Member)
            .filter(status="active", birthday__in=_birth_dates_celebrated_on(local.date()))
            .values_list("id", flat=True)  # type: ignore[assignment]
        )
        for member_id in members:
            for rule in rules:
                request = gate.SendRequest(
                    member_id=member_id,
                    template_id=rule.template_id,
                    purpose=rule.purpose,
                    source="trigger:birthday",
                    idempotency_key=f"trigger:{rule.id}:birthday:{local.year}",
                    not_before=now + timedelta(minutes=rule.delay_minutes),
                )
                async with unit_of_work(scope) as uow:
                    await gate.submit(uow, request, now)
                decided += 1
    return decided
