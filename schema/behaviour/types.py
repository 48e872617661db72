"""Behaviour events as GraphQL types and inputs."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from tessera.behaviour import service
from tessera.behaviour.models import BehaviourEvent as EventModel
from tessera.schema.ids import encode_id
from tessera.schema.members.identities import IdentityInput
from tessera.schema.orders.inputs import member_ref

_COMMON = ", ".join(f"`{name}`" for name in service.COMMON_TYPES)


@strawberry.type(description="Something a member did, recorded by a frontend.")
class BehaviourEvent:
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    event_id: str = strawberry.field(description="The recording system's id (idempotency key).")
    member_id: strawberry.ID = strawberry.field(description="Id of the member.")
    type: str = strawberry.field(description=f"What happened; common types: {_COMMON}.")
    occurred_at: datetime = strawberry.field(description="When it happened.")
    properties: JSON = strawberry.field(description="Details, a JSON object.")

    @classmethod
    def from_model(cls, event: EventModel) -> BehaviourEvent:
        return cls(
            id=strawberry.ID(encode_id("BehaviourEvent", event.id)),
            event_id=event.event_id,
            member_id=strawberry.ID(encode_id("Member", event.member_id)),
            type=event.type,
            occurred_at=event.occurred_at,
            properties=JSON(event.properties),
        )


@strawberry.input(
    description=(
        "A behaviour event of a known member (by `memberId` or `identity`, exactly one); "
        "events never create members."
    )
)
class RecordEventInput:
    event_id: str = strawberry.field(
        description="Your id of the event, unique in the brand: replaying it changes nothing."
    )
    type: str = strawberry.field(
        description=(
            "Open vocabulary: 1-64 lower-case letters, digits, `_` or `.`. Use the common "
            f"types where they fit: {_COMMON} (meanings in docs/facts.md)."
        )
    )
    occurred_at: datetime = strawberry.field(description="When it happened, with a UTC offset.")
    member_id: strawberry.ID | None = strawberry.field(default=None, description="The member.")
    identity: IdentityInput | None = strawberry.field(
        default=None, description="Or: an identity of the member."
    )
    properties: JSON | None = strawberry.field(
        default=None,
        description=f"Details: a JSON object of at most {service.MAX_PROPERTIES_BYTES} bytes.",
    )

    def to_domain(self) -> service.EventInput:
        return service.EventInput(
            event_id=self.event_id,
            member=member_ref(self.member_id, self.identity),
            type=self.type,
            occurred_at=self.occurred_at,
            properties=self.properties,
        )


@strawberry.input(
    description="Up to 1,000 behaviour events, each recorded (or refused) on its own."
)
class RecordEventsInput:
    events: list[RecordEventInput] = strawberry.field(
        description="The events; a longer list is refused whole with `BATCH_TOO_LARGE`."
    )
