"""recordEvent and recordEvents."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from tessera.behaviour import service
from tessera.errors import DomainError
from tessera.schema.behaviour.types import BehaviourEvent, RecordEventInput, RecordEventsInput
from tessera.schema.errors import UserError, user_errors
from tessera.schema.permissions import CanWrite


@strawberry.type(description="Result of `recordEvent`.")
class RecordEventPayload:
    event: BehaviourEvent | None = strawberry.field(
        default=None, description="The event as stored."
    )
    replayed: bool = strawberry.field(
        default=False,
        description="True when this `eventId` had been recorded before: nothing changed.",
    )
    errors: list[UserError] = strawberry.field(description="Why nothing was recorded.")


@strawberry.type(description="What happened to one event of a `recordEvents` batch.")
class RecordEventResult:
    index: int = strawberry.field(description="Position of the event in `input.events`.")
    event: BehaviourEvent | None = strawberry.field(
        default=None, description="The event, unless refused."
    )
    replayed: bool = strawberry.field(
        default=False, description="True when it had been recorded before."
    )
    errors: list[UserError] = strawberry.field(
        description="Why this event was refused; fields name it, e.g. `input.events.2.type`."
    )


@strawberry.type(description="Result of `recordEvents`.")
class RecordEventsPayload:
    results: list[RecordEventResult] = strawberry.field(
        default_factory=list, description="One result per event, in input order."
    )
    errors: list[UserError] = strawberry.field(
        description="Errors refusing the whole batch (e.g. `BATCH_TOO_LARGE`)."
    )


@strawberry.type
class BehaviourMutation:
    @strawberry.mutation(
        description=(
            "Record a behaviour event of a known member, idempotent on `eventId` (the same "
            "id with other details: `IDEMPOTENCY_CONFLICT`). Emits `event.recorded`. Needs "
            "the write scope."
        ),
        permission_classes=[CanWrite],
    )
    async def record_event(self, info: Info, input: RecordEventInput) -> RecordEventPayload:
        result = await service.record_event(info.context.scope, input.to_domain())
        return RecordEventPayload(
            event=BehaviourEvent.from_model(result.event), replayed=result.replayed, errors=[]
        )

    @strawberry.mutation(
        description=(
            "Record up to 1,000 behaviour events, each on its own with the rules of "
            "`recordEvent`. Needs the write scope."
        ),
        permission_classes=[CanWrite],
    )
    async def record_events(self, info: Info, input: RecordEventsInput) -> RecordEventsPayload:
        outcomes = await service.record_events(
            info.context.scope, [e.to_domain() for e in input.events]
        )
        results = [
            RecordEventResult(index=i, event=None, replayed=False, errors=user_errors(outcome))
            if isinstance(outcome, DomainError)
            else RecordEventResult(
                index=i,
                event=BehaviourEvent.from_model(outcome.event),
                replayed=outcome.replayed,
                errors=[],
            )
            for i, outcome in enumerate(outcomes)
        ]
        return RecordEventsPayload(results=results, errors=[])
