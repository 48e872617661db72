"""holdRewards and releaseHold."""

from __future__ import annotations

from datetime import timedelta

import strawberry
from strawberry.types import Info

from tessera.checkout import holds
from tessera.idempotency import from_caller
from tessera.orders.money import to_minor
from tessera.schema.checkout.types import RewardHold
from tessera.schema.errors import UserError
from tessera.schema.ids import require_id
from tessera.schema.orders.money import MoneyInput
from tessera.schema.permissions import CanWrite

KEY_HELP = (
    "Your id for this request (at most 120 characters, unique in the brand). Sending it "
    "again returns the first result and changes nothing; with other details it is refused "
    "with `IDEMPOTENCY_CONFLICT`."
)


@strawberry.input(description="What a checkout reserves for its member.")
class HoldRewardsInput:
    member_id: strawberry.ID = strawberry.field(description="The member paying.")
    order_amount: MoneyInput = strawberry.field(
        description="The cart's value: coupons' minimum spends and the points' share are "
        "checked on it."
    )
    idempotency_key: str = strawberry.field(description=KEY_HELP)
    points: int = strawberry.field(
        default=0,
        description="Points to reserve (0 or more), worth cash under the brand's "
        "points-as-cash rule; the member's `availablePoints` must cover them.",
    )
    coupon_codes: list[str] = strawberry.field(
        default_factory=list, description="The member's coupons to reserve (at most 50)."
    )
    categories: list[str] | None = strawberry.field(
        default=None,
        description="Categories of the cart's items, for coupons limited to some; "
        "null: not checked.",
    )
    external_order_id: str | None = strawberry.field(
        default=None, description="Your checkout's id, kept on the hold."
    )
    expires_in_seconds: int = strawberry.field(
        default=int(holds.DEFAULT_TTL.total_seconds()),
        description="How long the hold lasts unless an order confirms it: 60 to 86400 "
        "seconds, default 900.",
    )


@strawberry.input(description="A hold to give back.")
class ReleaseHoldInput:
    hold_id: strawberry.ID = strawberry.field(description="The hold.")
    idempotency_key: str = strawberry.field(description=KEY_HELP)


@strawberry.type(description="Result of `holdRewards` or `releaseHold`.")
class HoldPayload:
    hold: RewardHold | None = strawberry.field(default=None, description="The hold as stored.")
    replayed: bool = strawberry.field(
        default=False,
        description="True when this idempotency key had been used before: nothing changed.",
    )
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")


@strawberry.type
class CheckoutMutation:
    @strawberry.mutation(
        description=(
            "Reserve points and coupons for a checkout (freeze, then confirm): until the "
            "hold is confirmed by `recordOrder(input: {holdId})`, released or expired, no "
            "other redemption can spend them. Refused whole, naming the field: "
            "`INSUFFICIENT_POINTS`, `NOT_FOUND` (an unknown coupon or another member's), "
            "`COUPON_REDEEMED`, `COUPON_EXPIRED`, `COUPON_HELD`, `BELOW_MINIMUM_SPEND`, "
            "`NOT_APPLICABLE`, `EXCEEDS_ORDER_SHARE`, `REDEMPTION_DISABLED`. Idempotent on "
            "`idempotencyKey`. Needs the write scope."
        ),
        permission_classes=[CanWrite],
    )
    async def hold_rewards(self, info: Info, input: HoldRewardsInput) -> HoldPayload:
        scope = info.context.scope
        request = holds.HoldRequest(
            member_id=require_id(input.member_id, "Member", "memberId"),
            order_amount=to_minor(
                input.order_amount.to_domain(), scope.brand.currency, ["orderAmount"]
            ),
            idempotency_key=from_caller(input.idempotency_key),
            points=input.points,
            coupon_codes=tuple(input.coupon_codes),
            categories=tuple(input.categories) if input.categories is not None else None,
            external_order_id=(input.external_order_id or "").strip() or None,
            ttl=timedelta(seconds=input.expires_in_seconds),
        )
        result = await holds.hold_rewards(scope, request)
        return HoldPayload(
            hold=RewardHold.of(result, scope.brand.currency), replayed=result.replayed, errors=[]
        )

    @strawberry.mutation(
        description=(
            "Give a hold's points and coupons back (the checkout was abandoned). Idempotent "
            "on `idempotencyKey`; a hold already confirmed, expired or released under "
            "another key is refused (`HOLD_CONFIRMED`, `HOLD_EXPIRED`, `HOLD_RELEASED`). "
            "Needs the write scope."
        ),
        permission_classes=[CanWrite],
    )
    async def release_hold(self, info: Info, input: ReleaseHoldInput) -> HoldPayload:
        scope = info.context.scope
        result = await holds.release_hold(
            scope,
            require_id(input.hold_id, "RewardHold", "holdId"),
            idempotency_key_=from_caller(input.idempotency_key),
        )
        return HoldPayload(
            hold=RewardHold.of(result, scope.brand.currency), replayed=result.replayed, errors=[]
        )
