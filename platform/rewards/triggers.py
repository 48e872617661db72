"""Activity facts that arrive as committed domain events: a member joining
(registration bonus), a behaviour event (task points by event type).

:func:`after_commit` is an after-commit reaction (:data:`tessera.uow.AFTER_COMMIT`):
it hands each fact to the ``reward_activity`` job, which runs it through the
rewards pipeline in a transaction of its own and retries on failure. Every
award's idempotency key derives from the fact (``joined:<member>``,
``event:<event id>``), so a join already rewarded inside an order's
transaction, or a retried job, earns nothing twice.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from tessera import runtime
from tessera.members.models import Member
from tessera.members.profile import MemberStatus
from tessera.plugin_host.events import DomainEvent
from tessera.rewards.activities import reward_activity
from tessera.rewards.pipeline import programme
from tessera.scope import BrandScope
from tessera.tenancy.models import Brand
from tessera.uow import unit_of_work

log = logging.getLogger("tessera.rewards")


def _fact(event: DomainEvent) -> tuple[int, str, str, str | None] | None:
    """(member id, kind, reference, event type) of an event that earns, if any."""
    member_id = event.payload.get("member_id")
    if not isinstance(member_id, int):
        return None
    if event.name == "member.joined":
        return member_id, "joined", f"joined:{member_id}", None
    if event.name == "event.recorded" and event.payload.get("type"):
        return member_id, "event", f"event:{event.payload['event_id']}", event.payload["type"]
    return None


async def after_commit(events: list[DomainEvent]) -> None:
    queue = runtime.current().queue
    for event in events:
        fact = _fact(event)
        if fact is None:
            continue
        member_id, kind, ref, event_type = fact
        try:
            await queue.enqueue(
                "reward_activity",
                event.brand_id,
                member_id,
                kind,
                ref,
                event_type=event_type,
                at=event.occurred_at.isoformat(),
                job_id=f"reward_activity:{event.brand_id}:{ref}",
            )
        except Exception:
            log.exception("could not enqueue the reward of %s for brand %s", ref, event.brand_id)


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
    """Run one activity fact through the pipeline; returns the points awarded."""
    brand = await Brand.get_or_none(id=brand_id)
    if brand is None:
        return 0
    scope = BrandScope(brand)
    if (await programme(scope)).empty:
        return 0
    member = await scope.get(Member, member_id)
    if member is None or member.status != MemberStatus.ACTIVE.value:
        return 0
    now = datetime.fromisoformat(at) if at else datetime.now(UTC)
    async with unit_of_work(scope) as uow:
        applied = await reward_activity(
            scope, uow, member, kind, ref, now=now, event_type=event_type
        )
    return applied.plan.total_points if applied is not None else 0
