"""earnPoints, redeemPoints, adjustPoints, topUpStoredValue, spendStoredValue
and setPointsPolicy."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from tessera.assets import policy, service
from tessera.assets.policy import ExpiryMode, NegativeBalance
from tessera.assets.service import LedgerResult
from tessera.idempotency import from_caller
from tessera.orders.money import to_minor
from tessera.schema.assets.types import LedgerEntry, PointsPolicy
from tessera.schema.errors import UserError
from tessera.schema.ids import require_id
from tessera.schema.members.dataloaders import MemberByIdLoader
from tessera.schema.orders.money import Money, MoneyInput
from tessera.schema.permissions import CanManage, CanWrite

if TYPE_CHECKING:
    from tessera.schema.members.types import Member

MemberType = Annotated["Member", strawberry.lazy("tessera.schema.members.types")]

KEY_HELP = (
    "Your id for this request (at most 150 characters, unique in the brand). Sending it "
    "again returns the first result and changes nothing; with other details it is refused "
    "with `IDEMPOTENCY_CONFLICT`."
)


@strawberry.input(description="Points to add to or take from a member.")
class PointsInput:
    member_id: strawberry.ID = strawberry.field(description="The member's id.")
    points: int = strawberry.field(description="How many points; greater than zero.")
    idempotency_key: str = strawberry.field(description=KEY_HELP)
    reason: str = strawberry.field(default="", description="Why, shown in the ledger.")
    source_type: str = strawberry.field(
        default="api", description="What caused it, e.g. `campaign`, `game`, `order`."
    )
    source_ref: str | None = strawberry.field(default=None, description="The source's id.")


@strawberry.input(description="An operator's correction of a member's points.")
class AdjustPointsInput:
    member_id: strawberry.ID = strawberry.field(description="The member's id.")
    points: int = strawberry.field(
        description="Signed: positive adds points (a new lot, expiring per the policy), "
        "negative takes them (never below zero). Not zero."
    )
    idempotency_key: str = strawberry.field(description=KEY_HELP)
    reason: str = strawberry.field(description="Why; required.")


@strawberry.input(description="Stored value to add to or take from a member.")
class StoredValueInput:
    member_id: strawberry.ID = strawberry.field(description="The member's id.")
    amount: MoneyInput = strawberry.field(description="Greater than zero.")
    idempotency_key: str = strawberry.field(description=KEY_HELP)
    reason: str = strawberry.field(default="", description="Why, shown in the ledger.")
    source_type: str = strawberry.field(
        default="api", description="What caused it, e.g. `pos`, `order`, `gift_card`."
    )
    source_ref: str | None = strawberry.field(default=None, description="The source's id.")


@strawberry.input(
    description="Changes to the points policy; omitted fields stay. Applies to "
    "points earned from now on."
)
class SetPointsPolicyInput:
    expiry_mode: ExpiryMode | None = strawberry.field(default=None, description="How points lapse.")
    expiry_months: int | None = strawberry.field(default=None, description="1-120.")
    expiry_years: int | None = strawberry.field(default=None, description="1-10.")
    pending_days: int | None = strawberry.field(default=None, description="0-365.")
    negative_balance: NegativeBalance | None = strawberry.field(
        default=None, description="What reversals do to a balance that cannot cover them."
    )
    expiring_soon_days: int | None = strawberry.field(default=None, description="1-90.")


@strawberry.type(description="Result of a points mutation.")
class PointsPayload:
    entries: list[LedgerEntry] = strawberry.field(
        default_factory=list, description="The entries written (or replayed)."
    )
    balance: int | None = strawberry.field(
        default=None, description="The member's points after it."
    )
    replayed: bool = strawberry.field(
        default=False,
        description="True when this idempotency key had been used before: nothing changed.",
    )
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")
    member_pk: strawberry.Private[int | None] = None

    @strawberry.field(description="The member.")
    async def member(self, info: Info) -> MemberType | None:
        return await _member(info, self.member_pk)


@strawberry.type(description="Result of a stored-value mutation.")
class StoredValuePayload:
    entries: list[LedgerEntry] = strawberry.field(
        default_factory=list, description="The entries written (or replayed)."
    )
    balance: Money | None = strawberry.field(
        default=None, description="The member's stored value after it."
    )
    replayed: bool = strawberry.field(
        default=False,
        description="True when this idempotency key had been used before: nothing changed.",
    )
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")
    member_pk: strawberry.Private[int | None] = None

    @strawberry.field(description="The member.")
    async def member(self, info: Info) -> MemberType | None:
        return await _member(info, self.member_pk)


@strawberry.type(description="Result of `setPointsPolicy`.")
class PointsPolicyPayload:
    policy: PointsPolicy | None = strawberry.field(default=None, description="As now stored.")
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")


async def _member(info: Info, pk: int | None) -> Member | None:
    from tessera.schema.members.types import Member

    found = None if pk is None else await MemberByIdLoader.of(info).load(pk)
    return None if found is None else Member.from_model(found)


def _points(info: Info, result: LedgerResult, member_pk: int) -> PointsPayload:
    currency = info.context.scope.brand.currency
    return PointsPayload(
        entries=[LedgerEntry.from_model(e, currency) for e in result.entries],
        balance=result.balance,
        replayed=result.replayed,
        errors=[],
        member_pk=member_pk,
    )


async def _stored_value(info: Info, input: StoredValueInput, spend: bool) -> StoredValuePayload:
    scope = info.context.scope
    currency = scope.brand.currency
    member_pk = require_id(input.member_id, "Member", "memberId")
    amount = to_minor(input.amount.to_domain(), currency, ["amount"])
    write = service.spend_stored_value if spend else service.top_up_stored_value
    result = await write(
        scope,
        member_pk,
        amount,
        idempotency_key=from_caller(input.idempotency_key),
        reason=input.reason,
        source_type=input.source_type,
        source_ref=input.source_ref,
    )
    return StoredValuePayload(
        entries=[LedgerEntry.from_model(e, currency) for e in result.entries],
        balance=Money.of(result.balance, currency),
        replayed=result.replayed,
        errors=[],
        member_pk=member_pk,
    )


async def _move_points(info: Info, input: PointsInput, write: Any) -> PointsPayload:
    member_pk = require_id(input.member_id, "Member", "memberId")
    result = await write(
        info.context.scope,
        member_pk,
        input.points,
        idempotency_key=from_caller(input.idempotency_key),
        reason=input.reason,
        source_type=input.source_type,
        source_ref=input.source_ref,
    )
    return _points(info, result, member_pk)


@strawberry.type
class AssetsMutation:
    @strawberry.mutation(
        description="Give a member points (a new lot, expiring per the brand's policy). "
        "Idempotent on `idempotencyKey`. Emits `points.changed`. Needs the write scope.",
        permission_classes=[CanWrite],
    )
    async def earn_points(self, info: Info, input: PointsInput) -> PointsPayload:
        return await _move_points(info, input, service.earn_points)

    @strawberry.mutation(
        description="Take points from a member, soonest-expiring first; more than the "
        "balance is refused with `INSUFFICIENT_POINTS`. Idempotent on `idempotencyKey`. "
        "Emits `points.changed`. Needs the write scope.",
        permission_classes=[CanWrite],
    )
    async def redeem_points(self, info: Info, input: PointsInput) -> PointsPayload:
        return await _move_points(info, input, service.redeem_points)

    @strawberry.mutation(
        description="Correct a member's points up or down, with a required reason; the "
        "key's holder is recorded as the actor. Idempotent on `idempotencyKey`. Needs the "
        "manage scope.",
        permission_classes=[CanManage],
    )
    async def adjust_points(self, info: Info, input: AdjustPointsInput) -> PointsPayload:
        member_pk = require_id(input.member_id, "Member", "memberId")
        result = await service.adjust_points(
            info.context.scope,
            member_pk,
            input.points,
            idempotency_key=from_caller(input.idempotency_key),
            reason=input.reason,
        )
        return _points(info, result, member_pk)

    @strawberry.mutation(
        description="Add prepaid balance (儲值) to a member. Idempotent on `idempotencyKey`. "
        "Emits `stored_value.changed`. Needs the write scope.",
        permission_classes=[CanWrite],
    )
    async def top_up_stored_value(self, info: Info, input: StoredValueInput) -> StoredValuePayload:
        return await _stored_value(info, input, spend=False)

    @strawberry.mutation(
        description="Pay with a member's prepaid balance; more than it holds is refused with "
        "`INSUFFICIENT_BALANCE`. Idempotent on `idempotencyKey`. Emits "
        "`stored_value.changed`. Needs the write scope.",
        permission_classes=[CanWrite],
    )
    async def spend_stored_value(self, info: Info, input: StoredValueInput) -> StoredValuePayload:
        return await _stored_value(info, input, spend=True)

    @strawberry.mutation(
        description="Change the brand's points policy (expiry, return window, negative "
        "balances, warning days). Needs the manage scope.",
        permission_classes=[CanManage],
    )
    async def set_points_policy(
        self, info: Info, input: SetPointsPolicyInput
    ) -> PointsPolicyPayload:
        values = await policy.set_policy(
            info.context.scope,
            expiry_mode=input.expiry_mode,
            expiry_months=input.expiry_months,
            expiry_years=input.expiry_years,
            pending_days=input.pending_days,
            negative_balance=input.negative_balance,
            expiring_soon_days=input.expiring_soon_days,
        )
        return PointsPolicyPayload(policy=PointsPolicy.of(values), errors=[])
