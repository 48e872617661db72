"""Activity facts that arrive as committed domain events: a member joining
(registration bonus), a behaviour event (task points by event type).

:func:`follow_ups` is registered in :data:`tessera.uow.FOLLOW_UPS`: each fact
becomes an outbox entry, written with the fact, for the ``reward_activity``
job, which runs it through the rewards pipeline in a transaction of its own
and is retried on failure. Every
award's idempotency key derives from the fact (``joined:<member>``,
``event:<event id>``), so a join already rewarded inside an order's
transaction, or a retried job, earns nothing twice. An award is dated when
its fact happened (the member's ``joined_at``, the behaviour event's
``occurred_at``), not when the job runs, as an order's rewards are dated by
the order: campaign and growth windows judge the fact, not the queue.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tessera.members.models import Member
from tessera.members.profile import MemberStatus
from tessera.outbox.store import FollowUp
from tessera.plugin_host.events import DomainEvent
from tessera.rewards.activities import reward_activity
from tessera.rewards.pipeline import programme
from tessera.scope import BrandScope
from tessera.tenancy.models import Brand
from tessera.uow import unit_of_work


def _fact(event: DomainEvent) -> tuple[int, str, str, str | None, str | None] | None:
    """(member id, kind, reference, event type, when) of an event that earns,
    if any; ``when`` is None where the job reads it from the member."""
    member_id = event.payload.get("member_id")
    if not isinstance(member_id, int):
        return None
    if event.name == "member.joined":
        if event.payload.get("imported"):
            return None  # an old CRM's member: their joining was rewarded there
        return member_id, "joined", f"joined:{member_id}", None, None
    if event.name == "event.recorded" and event.payload.get("type"):
        at = event.payload.get("occurred_at") or event.occurred_at.isoformat()
        ref = f"event:{event.payload['event_id']}"
        return member_id, "event", ref, event.payload["type"], at
    return None


def follow_ups(events: list[DomainEvent]) -> list[FollowUp]:
    work = []
    for event in events:
        fact = _fact(event)
        if fact is None:
            continue
        member_id, kind, ref, event_type, at = fact
        work.append(
            FollowUp(
                "reward_activity",
                (event.brand_id, member_id, kind, ref),
                {"event_type": event_type, "at": at},
                key=f"reward_activity:{ref}",
            )
        )
    return work


async def reward_activity_job(
    ctx: dict[str, Any],
    brand_id: int,
    member_id: int,
    kind: str,
    ref: str,
    *,
    event_type: str | None = None,
    at: str | None = None,
) -> int:
    """Run one activity fact through the pipeline; returns the points it is
    worth to the member (a replay writes nothing, as every award is keyed).
    ``at`` dates the fact (ISO 8601); a join is dated by the member's
    ``joined_at``, as :func:`~tessera.rewards.activities.on_member_joined` does."""
    brand = await Brand.get_or_none(id=brand_id)
    if brand is None:
        return 0
    scope = BrandScope(brand)
    if (await programme(scope)).empty:
        return 0
    member = await scope.get(Member, member_id)
    if member is None or member.status != MemberStatus.ACTIVE.value:
        return 0
    if kind == "joined" and member.joined_at is not None:
        now = member.joined_at
    else:
        now = datetime.fromisoformat(at) if at else datetime.now(UTC)
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
    async with unit_of_work(scope) as uow:
        applied = await reward_activity(
            scope, uow, member, kind, ref, now=now, event_type=event_type
        )
    return applied.plan.total_points if applied is not None else 0
