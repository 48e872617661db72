"""Tier CRUD (manage scope)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from tessera.schema.errors import UserError
from tessera.schema.ids import id_for_lookup, require_id
from tessera.schema.permissions import CanManage
from tessera.schema.tiers.types import Tier, TierBenefitInput
from tessera.tiers import definitions


def _template_ids(ids: list[strawberry.ID] | None) -> list[int] | None:
    if ids is None:
        return None
    return [id_for_lookup(i, "CouponTemplate") or 0 for i in ids]


@strawberry.input(description="A new tier.")
class CreateTierInput:
    code: str = strawberry.field(description="1-32 lower-case letters, digits, '-' or '_'.")
    name: str = strawberry.field(description="Name shown to members (1-100 characters).")
    rank: int = strawberry.field(description="0-1000, unique in the brand; higher is better.")
    benefits: list[TierBenefitInput] = strawberry.field(
        default_factory=list, description="What members of the tier get (each kind once)."
    )
    gift_points: int = strawberry.field(default=0, description="Upgrade gift: points.")
    gift_coupon_template_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="Upgrade gift: coupon templates (at most 10)."
    )
    validity_months: int | None = strawberry.field(
        default=None, description="1-120 months before review; null: no expiry."
    )

    def to_domain(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "rank": self.rank,
            "benefits": [b.to_domain(i) for i, b in enumerate(self.benefits)],
            "gift_points": self.gift_points,
            "gift_coupon_template_ids": _template_ids(self.gift_coupon_template_ids),
            "validity_months": self.validity_months,
        }


@strawberry.input(description="Changes to a tier; omitted fields stay as they are.")
class UpdateTierInput:
    id: strawberry.ID = strawberry.field(description="The tier.")
    code: str | None = strawberry.field(default=None, description="New code.")
    name: str | None = strawberry.field(default=None, description="New name.")
    rank: int | None = strawberry.field(default=None, description="New rank (unique).")
    benefits: list[TierBenefitInput] | None = strawberry.field(
        default=None, description="The whole new list of benefits."
    )
    gift_points: int | None = strawberry.field(default=None, description="Upgrade gift points.")
    gift_coupon_template_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Upgrade gift coupon templates."
    )
    validity_months: int | None = strawberry.field(
        default=strawberry.UNSET, description="1-120; null clears it (no expiry)."
    )

    def to_domain(self) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        for name in ("code", "name", "rank", "gift_points"):
            if getattr(self, name) is not None:
                changes[name] = getattr(self, name)
        if self.benefits is not None:
            changes["benefits"] = [b.to_domain(i) for i, b in enumerate(self.benefits)]
        if self.gift_coupon_template_ids is not None:
            changes["gift_coupon_template_ids"] = _template_ids(self.gift_coupon_template_ids)
        if self.validity_months is not strawberry.UNSET:
            changes["validity_months"] = self.validity_months
        return changes


@strawberry.input(description="The tier to delete.")
class DeleteTierInput:
    id: strawberry.ID = strawberry.field(description="A tier no member holds or has held.")


@strawberry.type(description="Result of a tier mutation.")
class TierPayload:
    tier: Tier | None = strawberry.field(default=None, description="The tier as now stored.")
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")


@strawberry.type(description="Result of `deleteTier`.")
class DeleteTierPayload:
    deleted_id: strawberry.ID | None = strawberry.field(default=None, description="The id deleted.")
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")


@strawberry.type
class TiersMutation:
    @strawberry.mutation(
        description="Define a tier. Needs the manage scope.", permission_classes=[CanManage]
    )
    async def create_tier(self, info: Info, input: CreateTierInput) -> TierPayload:
        tier = await definitions.create_tier(info.context.scope, input.to_domain())
        return TierPayload(tier=Tier.from_model(tier), errors=[])

    @strawberry.mutation(
        description="Change a tier. Members keep their current validity. Needs the manage scope.",
        permission_classes=[CanManage],
    )
    async def update_tier(self, info: Info, input: UpdateTierInput) -> TierPayload:
        tier = await definitions.update_tier(
            info.context.scope, require_id(input.id, "Tier", "id"), input.to_domain()
        )
        return TierPayload(tier=Tier.from_model(tier), errors=[])

    @strawberry.mutation(
        description="Delete a tier no member holds or has held. Needs the manage scope.",
        permission_classes=[CanManage],
    )
    async def delete_tier(self, info: Info, input: DeleteTierInput) -> DeleteTierPayload:
        await definitions.delete_tier(info.context.scope, require_id(input.id, "Tier", "id"))
        return DeleteTierPayload(deleted_id=input.id, errors=[])
