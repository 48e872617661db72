"""`checkIn`, `redeemPointsForOrder` and `recordReferral`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from tessera.errors import DomainError
from tessera.idempotency import from_caller
from tessera.rewards import activities, redemption
from tessera.schema.errors import UserError
from tessera.schema.ids import id_for_lookup, require_id
from tessera.schema.members.dataloaders import MemberByIdLoader
from tessera.schema.members.session import acting_member
from tessera.schema.orders.money import Money, MoneyInput
from tessera.schema.permissions import CanWrite, CanWriteOrIsMember
from tessera.schema.rewards.types import CheckIn

if TYPE_CHECKING:
    from tessera.schema.members.types import Member

MemberType = Annotated["Member", strawberry.lazy("tessera.schema.members.types")]


async def _member(info: Info, pk: int | None) -> Member | None:
    from tessera.schema.members.types import Member

    found = None if pk is None else await MemberByIdLoader.of(info).load(pk)
    return None if found is None else Member.from_model(found)


@strawberry.input(description="Who checks in.")
class CheckInInput:
    member_id: strawberry.ID | None = strawberry.field(
        default=None, description="The member; omit with a member token (it checks in itself)."
    )


@strawberry.type(description="Result of `checkIn`.")
class CheckInPayload:
    check_in: CheckIn | None = strawberry.field(default=None, description="Today's check-in.")
    replayed: bool = strawberry.field(
        default=False,
        description="True when the member had already checked in today: nothing changed.",
    )
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")
    member_pk: strawberry.Private[int | None] = None

    @strawberry.field(description="The member.")
    async def member(self, info: Info) -> MemberType | None:
        return await _member(info, self.member_pk)


@strawberry.input(description="Points paying part of an order (points as cash).")
class RedeemPointsForOrderInput:
    member_id: strawberry.ID = strawberry.field(description="The member.")
    points: int = strawberry.field(description="Points to use.")
    idempotency_key: str = strawberry.field(
        description="Your id for this request; sending it again returns the first result."
    )
    order_id: strawberry.ID | None = strawberry.field(
        default=None, description="A recorded order of the member."
    )
    order_external_id: str | None = strawberry.field(
        default=None, description="Or: the shop's id of an order at checkout..."
    )
    order_amount: MoneyInput | None = strawberry.field(
        default=None, description="...and its amount."
    )


@strawberry.type(description="Result of `redeemPointsForOrder`.")
class RedeemPointsForOrderPayload:
    discount: Money | None = strawberry.field(
        default=None, description="What the points pay of the order."
    )
    balance: int | None = strawberry.field(
        default=None, description="The member's points after it."
    )
    replayed: bool = strawberry.field(
        default=False, description="True when the key had been used before."
    )
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")


@strawberry.input(description="A member who brought another one in.")
class RecordReferralInput:
    referrer_id: strawberry.ID = strawberry.field(description="The member who referred.")
    referee_id: strawberry.ID = strawberry.field(description="The member referred.")


@strawberry.type(description="Result of `recordReferral`.")
class RecordReferralPayload:
    replayed: bool = strawberry.field(
        default=False, description="True when it was recorded before."
    )
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")


@strawberry.type
class RewardsMutation:
    @strawberry.mutation(
        description="Check a member in for today (the brand's timezone): once a day, with a "
        "streak of consecutive days; points per the activity rules. Idempotent per day. "
        "A member token checks itself in; a brand key needs the write scope and `memberId`.",
        permission_classes=[CanWriteOrIsMember],
    )
    async def check_in(self, info: Info, input: CheckInInput) -> CheckInPayload:
        pk = acting_member(
            info, input.member_id, DomainError("NOT_FOUND", "no such member", ["memberId"])
        )
        result = await activities.check_in(info.context.scope, pk)
        row = result.check_in
        return CheckInPayload(
            check_in=CheckIn(day=row.day, streak=row.streak, points=row.points, at=row.at),
            replayed=result.replayed,
            errors=[],
            member_pk=row.member_id,
        )

    @strawberry.mutation(
        description="Pay part of an order with points under the brand's redemption rule "
        "(points per currency unit, maximum share of the order, minimum points). Needs the "
        "write scope.",
        permission_classes=[CanWrite],
    )
    async def redeem_points_for_order(
        self, info: Info, input: RedeemPointsForOrderInput
    ) -> RedeemPointsForOrderPayload:
        scope = info.context.scope
        done = await redemption.redeem_for_order(
            scope,
            member_id=require_id(input.member_id, "Member", "memberId"),
            points=input.points,
            idempotency_key=from_caller(input.idempotency_key),
            order_id=id_for_lookup(input.order_id, "Order"),
            order_external_id=input.order_external_id,
            order_amount=input.order_amount.to_domain() if input.order_amount else None,
        )
        return RedeemPointsForOrderPayload(
            discount=Money.of(done.discount, scope.brand.currency),
            balance=done.ledger.balance,
            replayed=done.ledger.replayed,
            errors=[],
        )

    @strawberry.mutation(
        description="Record that one member referred another and award the referral rule's "
        "points to both; a member is referred once. Needs the write scope.",
        permission_classes=[CanWrite],
    )
    async def record_referral(
        self, info: Info, input: RecordReferralInput
    ) -> RecordReferralPayload:
        _, replayed = await activities.record_referral(
            info.context.scope,
            referrer_id=require_id(input.referrer_id, "Member", "referrerId"),
            referee_id=require_id(input.referee_id, "Member", "refereeId"),
        )
        return RecordReferralPayload(replayed=replayed, errors=[])
