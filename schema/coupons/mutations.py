"""Coupon template CRUD (admin), issuing and voiding (write), redeeming
(write, or the member's own token)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import strawberry
from strawberry.types import Info

from tessera.coupons import service
from tessera.coupons.models import CouponTemplate as TemplateModel
from tessera.errors import DomainError
from tessera.idempotency import from_caller
from tessera.orders.money import to_minor
from tessera.schema.coupons.inputs import (
    CreateCouponTemplateInput,
    DeleteCouponTemplateInput,
    IssueCouponInput,
    IssueCouponsInput,
    RedeemCouponInput,
    UpdateCouponTemplateInput,
    VoidCouponInput,
    template_values,
)
from tessera.schema.coupons.types import Coupon, CouponRedemption, CouponTemplate
from tessera.schema.errors import UserError, user_errors
from tessera.schema.ids import decode_id, require_id
from tessera.schema.members.session import acting_member
from tessera.schema.orders.money import Money
from tessera.schema.permissions import CanManage, CanWrite, CanWriteOrIsMember


@strawberry.type(description="Result of a coupon template mutation.")
class CouponTemplatePayload:
    template: CouponTemplate | None = strawberry.field(
        default=None, description="The template as stored."
    )
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")


@strawberry.type(description="Result of `deleteCouponTemplate`.")
class DeleteCouponTemplatePayload:
    deleted_id: strawberry.ID | None = strawberry.field(
        default=None, description="Id of the deleted template."
    )
    errors: list[UserError] = strawberry.field(description="Why nothing was deleted.")


@strawberry.type(description="Result of `issueCoupon` or `voidCoupon`.")
class CouponPayload:
    coupon: Coupon | None = strawberry.field(default=None, description="The coupon as stored.")
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")


@strawberry.type(description="What happened for one member of an `issueCoupons` batch.")
class IssueCouponResult:
    index: int = strawberry.field(description="Position of the member in `input.memberIds`.")
    coupon: Coupon | None = strawberry.field(
        default=None, description="The coupon, unless refused."
    )
    errors: list[UserError] = strawberry.field(
        description="Why this member got none, e.g. `OUT_OF_STOCK` at `input.memberIds.7`."
    )


@strawberry.type(description="Result of `issueCoupons`.")
class IssueCouponsPayload:
    results: list[IssueCouponResult] = strawberry.field(
        default_factory=list, description="One per member, in order."
    )
    errors: list[UserError] = strawberry.field(
        description="Errors refusing the whole batch (e.g. `BATCH_TOO_LARGE`, template)."
    )


@strawberry.type(description="Result of `redeemCoupon`.")
class RedeemCouponPayload:
    coupon: Coupon | None = strawberry.field(default=None, description="The coupon, now redeemed.")
    redemption: CouponRedemption | None = strawberry.field(
        default=None, description="The redemption."
    )
    discount: Money | None = strawberry.field(default=None, description="Money off the order.")
    replayed: bool = strawberry.field(
        default=False,
        description="True when this idempotency key had been redeemed before: nothing changed.",
    )
    errors: list[UserError] = strawberry.field(description="Why nothing was redeemed.")


async def _coupon(info: Info, coupon: Any) -> Coupon:
    scope = info.context.scope
    template = await scope.get(TemplateModel, coupon.template_id)
    return Coupon.from_model(coupon, template, scope.brand.currency, datetime.now(UTC))


@strawberry.type
class CouponsMutation:
    @strawberry.mutation(
        description="Create a coupon template. Needs the manage scope.",
        permission_classes=[CanManage],
    )
    async def create_coupon_template(
        self, info: Info, input: CreateCouponTemplateInput
    ) -> CouponTemplatePayload:
        scope = info.context.scope
        template = await service.create_template(scope, template_values(input))
        return CouponTemplatePayload(
            template=CouponTemplate.from_model(template, scope.brand.currency), errors=[]
        )

    @strawberry.mutation(
        description="Change a coupon template (`TEMPLATE_IN_USE` for terms once coupons were "
        "issued; `STOCK_BELOW_ISSUED`). Needs the manage scope.",
        permission_classes=[CanManage],
    )
    async def update_coupon_template(
        self, info: Info, input: UpdateCouponTemplateInput
    ) -> CouponTemplatePayload:
        scope = info.context.scope
        template = await service.update_template(
            scope, require_id(input.id, "CouponTemplate", "id"), template_values(input)
        )
        return CouponTemplatePayload(
            template=CouponTemplate.from_model(template, scope.brand.currency), errors=[]
        )

    @strawberry.mutation(
        description="Delete a template no coupon was issued from (else `TEMPLATE_IN_USE`: "
        "deactivate it instead). Needs the manage scope.",
        permission_classes=[CanManage],
    )
    async def delete_coupon_template(
        self, info: Info, input: DeleteCouponTemplateInput
    ) -> DeleteCouponTemplatePayload:
        await service.delete_template(
            info.context.scope, require_id(input.id, "CouponTemplate", "id")
        )
        return DeleteCouponTemplatePayload(deleted_id=input.id, errors=[])

    @strawberry.mutation(
        description="Issue a coupon to a member, within the template's stock and per-member "
        "limit; idempotent on `idempotencyKey`. Emits `coupon.issued`. Needs the write scope.",
        permission_classes=[CanWrite],
    )
    async def issue_coupon(self, info: Info, input: IssueCouponInput) -> CouponPayload:
        scope = info.context.scope
        coupon = await service.issue_coupon(
            scope,
            template_id=require_id(input.template_id, "CouponTemplate", "templateId"),
            member_id=require_id(input.member_id, "Member", "memberId"),
            idempotency_key=from_caller(input.idempotency_key),
        )
        return CouponPayload(coupon=await _coupon(info, coupon), errors=[])

    @strawberry.mutation(
        description="Issue a coupon to each of up to 10,000 members; each succeeds or fails "
        "on its own. Emits `coupon.issued` per coupon. Needs the write scope.",
        permission_classes=[CanWrite],
    )
    async def issue_coupons(self, info: Info, input: IssueCouponsInput) -> IssueCouponsPayload:
        scope = info.context.scope
        template_id = require_id(input.template_id, "CouponTemplate", "templateId")
        outcomes = await service.issue_coupons(
            scope,
            template_id=template_id,
            member_ids=[decode_id(str(m), "Member") for m in input.member_ids],
            idempotency_key=from_caller(input.idempotency_key),
        )
        template = await scope.get(TemplateModel, template_id)
        now = datetime.now(UTC)
        currency = scope.brand.currency
        results = [
            IssueCouponResult(index=i, coupon=None, errors=user_errors(outcome))
            if isinstance(outcome, DomainError)
            else IssueCouponResult(
                index=i, coupon=Coupon.from_model(outcome, template, currency, now), errors=[]
            )
            for i, outcome in enumerate(outcomes)
        ]
        return IssueCouponsPayload(results=results, errors=[])

    @strawberry.mutation(
        description="Use a coupon on an order. Checks the holder, status, validity window "
        "(brand's timezone), active template, minimum spend and categories; idempotent on "
        "`idempotencyKey`; a coupon is redeemed once however many calls race. Emits "
        "`coupon.redeemed`. Needs the write scope, or the member's own token.",
        permission_classes=[CanWriteOrIsMember],
    )
    async def redeem_coupon(self, info: Info, input: RedeemCouponInput) -> RedeemCouponPayload:
        scope = info.context.scope
        currency = scope.brand.currency
        result = await service.redeem_coupon(
            scope,
            code=input.code,
            member_id=acting_member(
                info,
                input.member_id,
                DomainError("NOT_FOUND", "no such coupon for this member", ["code"]),
            ),
            order_id=(
                require_id(input.order_id, "Order", "orderId")
                if input.order_id is not None
                else None
            ),
            order_amount=(
                to_minor(input.order_amount.to_domain(), currency, ["orderAmount"])
                if input.order_amount is not None
                else None
            ),
            external_order_id=input.external_order_id,
            categories=input.categories,
            idempotency_key=from_caller(input.idempotency_key),
        )
        return RedeemCouponPayload(
            coupon=Coupon.from_model(
                result.coupon, result.coupon.template, currency, datetime.now(UTC)
            ),
            redemption=CouponRedemption.from_model(result.redemption, currency),
            discount=Money.of(result.redemption.discount, currency),
            replayed=result.replayed,
            errors=[],
        )

    @strawberry.mutation(
        description="Void an unused coupon, with a reason; voiding it again changes nothing, "
        "a redeemed one is refused (`COUPON_REDEEMED`). Needs the write scope.",
        permission_classes=[CanWrite],
    )
    async def void_coupon(self, info: Info, input: VoidCouponInput) -> CouponPayload:
        scope = info.context.scope
        coupon = await service.void_coupon(
            scope,
            code=input.code,
            coupon_id=(
                require_id(input.coupon_id, "Coupon", "couponId")
                if input.coupon_id is not None
                else None
            ),
            reason=input.reason,
        )
        return CouponPayload(
            coupon=Coupon.from_model(
                coupon, coupon.template, scope.brand.currency, datetime.now(UTC)
            ),
            errors=[],
        )
