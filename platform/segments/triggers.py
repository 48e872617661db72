"""Which committed facts re-evaluate which members.

Registered in :data:`tessera.uow.FOLLOW_UPS`: a unit of work whose events
name members writes, in its own transaction, one outbox entry per member for
the job ``segments_member_facts``, which updates, in order, their lifecycle
(after orders, refunds and joining), rule tags, and dynamic segments. The
entry's key coalesces: however many facts of a member change before the work
runs, it runs once for them; and the relay runs the waiting members of a
brand together, as one set-based job (:data:`tessera.outbox.store.BATCHED_KINDS`).
"""

from __future__ import annotations

from tessera.outbox.store import FollowUp
from tessera.plugin_host.events import DomainEvent

# Facts that change a member's lifecycle (a joiner gets their first stage).
LIFECYCLE_EVENTS = {"order.recorded", "refund.recorded", "member.joined", "member.merged"}
FACT_EVENTS = LIFECYCLE_EVENTS | {"event.recorded", "member.updated"}


def member_facts(brand_id: int, member_id: int, *, lifecycle: bool, tags: bool) -> FollowUp:
    """The coalesced re-evaluation of one member (one pending entry per member
    and kind of work, however many facts changed)."""
    flags = ("l" if lifecycle else "") + ("t" if tags else "")
    return FollowUp(
        "segments_member_facts",
        (brand_id, [member_id]),
        {"lifecycle": lifecycle, "tags": tags},
        key=f"segments_member_facts:{member_id}:{flags}",
    )


def follow_ups(events: list[DomainEvent]) -> list[FollowUp]:
    # (brand, member) -> [lifecycle, tags]
    members: dict[tuple[int, int], list[bool]] = {}
    refresh_brands: set[int] = set()
    for event in events:
        payload = event.payload
        if event.name in FACT_EVENTS and isinstance(payload.get("member_id"), int):
            flags = members.setdefault((event.brand_id, payload["member_id"]), [False, False])
            flags[0] |= event.name in LIFECYCLE_EVENTS
            flags[1] = True
        elif event.name == "tags.changed":
            ids = payload.get("member_ids")
            if ids:
                # A rule tag changing must not re-evaluate rule tags (a loop).
                by_hand = payload.get("source") != "rule"
                for member_id in ids:
                    if isinstance(member_id, int):
                        flags = members.setdefault((event.brand_id, member_id), [False, False])
                        flags[1] |= by_hand
            elif payload.get("action") == "tag_deleted":
                refresh_brands.add(event.brand_id)
    work = [
        member_facts(brand_id, member_id, lifecycle=lifecycle, tags=tags)
        for (brand_id, member_id), (lifecycle, tags) in sorted(members.items())
    ]
    work.extend(
        FollowUp("segments_refresh_brand", (brand_id,), key="segments_refresh_brand")
        for brand_id in sorted(refresh_brands)
    )
    return work
