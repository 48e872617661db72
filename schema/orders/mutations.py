"""recordOrder, recordOrders and recordRefund."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from tessera.errors import DomainError
from tessera.orders import refunds
from tessera.pipeline import orders as pipeline
from tessera.schema.errors import UserError, user_errors
from tessera.schema.orders.inputs import RecordOrderInput, RecordOrdersInput, RecordRefundInput
from tessera.schema.orders.outcome import OrderOutcome
from tessera.schema.orders.types import Order, Refund
from tessera.schema.permissions import CanWrite


@strawberry.type(description="Result of `recordOrder`.")
class RecordOrderPayload:
    order: Order | None = strawberry.field(default=None, description="The order as stored.")
    replayed: bool = strawberry.field(
        default=False,
        description="True when this `externalId` had been recorded before: nothing changed.",
    )
    errors: list[UserError] = strawberry.field(description="Why nothing was recorded.")

    @strawberry.field(
        description="What recording it did (the same as `order.outcome`): points per rule, "
        "growth, points spent, coupons used and issued, the tier change."
    )
    async def outcome(self, info: Info) -> OrderOutcome | None:
        return None if self.order is None else await self.order.outcome(info)


@strawberry.type(description="What happened to one order of a `recordOrders` batch.")
class RecordOrderResult:
    index: int = strawberry.field(description="Position of the order in `input.orders`.")
    order: Order | None = strawberry.field(
        default=None, description="The order as stored, unless refused."
    )
    replayed: bool = strawberry.field(
        default=False, description="True when it had been recorded before."
    )
    errors: list[UserError] = strawberry.field(
        description=(
            "Why this order was refused; fields name it, e.g. `input.orders.3.lines.0.quantity`."
        )
    )


@strawberry.type(description="Result of `recordOrders`.")
class RecordOrdersPayload:
    results: list[RecordOrderResult] = strawberry.field(
        default_factory=list, description="One result per order, in input order."
    )
    errors: list[UserError] = strawberry.field(
        description="Errors refusing the whole batch (e.g. `BATCH_TOO_LARGE`)."
    )


@strawberry.type(description="Result of `recordRefund`.")
class RecordRefundPayload:
    refund: Refund | None = strawberry.field(default=None, description="The refund as stored.")
    replayed: bool = strawberry.field(
        default=False,
        description="True when this `externalId` had been recorded before: nothing changed.",
    )
    errors: list[UserError] = strawberry.field(description="Why nothing was recorded.")


@strawberry.type
class OrdersMutation:
    @strawberry.mutation(
        description=(
            "Record a purchase and count it into the member's statistics, idempotent on "
            "`externalId` (the same id with other details: `IDEMPOTENCY_CONFLICT`). "
            "Emits `order.recorded`. Needs the write scope."
        ),
        permission_classes=[CanWrite],
    )
    async def record_order(self, info: Info, input: RecordOrderInput) -> RecordOrderPayload:
        scope = info.context.scope
        result = await pipeline.record_order(scope, input.to_domain())
        return RecordOrderPayload(
            order=Order.from_model(result.order, scope.brand.currency),
            replayed=result.replayed,
            errors=[],
        )

    @strawberry.mutation(
        description=(
            "Record up to 1,000 orders. Each is recorded or refused on its own (all or "
            "nothing per order), with the same rules as `recordOrder`. Needs the write scope."
        ),
        permission_classes=[CanWrite],
    )
    async def record_orders(self, info: Info, input: RecordOrdersInput) -> RecordOrdersPayload:
        scope = info.context.scope
        outcomes = await pipeline.record_orders(scope, [o.to_domain() for o in input.orders])
        results = []
        for i, outcome in enumerate(outcomes):
            if isinstance(outcome, DomainError):
                results.append(
                    RecordOrderResult(
                        index=i, order=None, replayed=False, errors=user_errors(outcome)
                    )
                )
            else:
                results.append(
                    RecordOrderResult(
                        index=i,
                        order=Order.from_model(outcome.order, scope.brand.currency),
                        replayed=outcome.replayed,
                        errors=[],
                    )
                )
        return RecordOrdersPayload(results=results, errors=[])

    @strawberry.mutation(
        description=(
            "Record a refund of an order: the rest of it, an amount, or lines; never more "
            "than was paid (`REFUND_EXCEEDS_PAID`). Idempotent on `externalId`. Emits "
            "`refund.recorded`. Needs the write scope."
        ),
        permission_classes=[CanWrite],
    )
    async def record_refund(self, info: Info, input: RecordRefundInput) -> RecordRefundPayload:
        scope = info.context.scope
        result = await refunds.record_refund(scope, input.to_domain())
        return RecordRefundPayload(
            refund=Refund.from_model(result.refund, scope.brand.currency),
            replayed=result.replayed,
            errors=[],
        )
