"""A member's behaviour events, newest first (the ``Member.events`` field)."""

from __future__ import annotations

from strawberry.types import Info

from tessera.behaviour.models import BehaviourEvent as EventModel
from tessera.schema.behaviour.types import BehaviourEvent
from tessera.schema.orders.timeline import member_timeline
from tessera.schema.pagination import Connection, Window


async def member_events(info: Info, member_id: int, window: Window) -> Connection[BehaviourEvent]:
    return await member_timeline(
        info, EventModel, member_id, window, to_node=BehaviourEvent.from_model
    )
