"""Which committed facts re-evaluate which members.

Registered in :data:`tessera.uow.AFTER_COMMIT`. For each brand, the member
ids named by the events of one unit of work go to one job
(``segments_member_facts``) that updates, in order, their lifecycle (after
orders, refunds and joining), rule tags, and dynamic segments. Under arq that runs
within seconds in a worker; in-process, before the caller's call returns.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from tessera import runtime
from tessera.jobs.outside_transaction import EnqueuedInTransaction
from tessera.plugin_host.events import DomainEvent

log = logging.getLogger("tessera.segments")

# Facts that change a member's lifecycle (a joiner gets their first stage).
LIFECYCLE_EVENTS = {"order.recorded", "refund.recorded", "member.joined"}
FACT_EVENTS = LIFECYCLE_EVENTS | {"event.recorded", "member.updated"}


@dataclass
class _Work:
    member_ids: set[int] = field(default_factory=set)
    lifecycle: bool = False
    tags: bool = False  # rule tags need a look (not when only rule tags changed)
    refresh_all: bool = False


async def after_commit(events: list[DomainEvent]) -> None:
    work: dict[int, _Work] = {}
    for event in events:
        payload = event.payload
        if event.name in FACT_EVENTS and isinstance(payload.get("member_id"), int):
            item = work.setdefault(event.brand_id, _Work())
            item.member_ids.add(payload["member_id"])
            item.lifecycle |= event.name in LIFECYCLE_EVENTS
            item.tags = True
        elif event.name == "tags.changed":
            item = work.setdefault(event.brand_id, _Work())
            ids = payload.get("member_ids")
            if ids:
                item.member_ids.update(i for i in ids if isinstance(i, int))
                # A rule tag changing must not re-evaluate rule tags (a loop).
                item.tags |= payload.get("source") != "rule"
            elif payload.get("action") == "tag_deleted":
                item.refresh_all = True
    queue = runtime.current().queue
    for brand_id, item in work.items():
        try:
            if item.member_ids:
                await queue.enqueue(
                    "segments_member_facts",
                    brand_id,
                    sorted(item.member_ids),
                    lifecycle=item.lifecycle,
                    tags=item.tags,
                )
            if item.refresh_all:
                await queue.enqueue("segments_refresh_brand", brand_id)
        except EnqueuedInTransaction:
            # A unit of work nested in an outer transaction: the outer one
            # has not committed, so nothing may run yet. The schedule catches up.
            log.warning("segments of brand %s not re-evaluated: inside a transaction", brand_id)
