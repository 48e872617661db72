"""`previewOrderRewards`: the dry run of `recordOrder`'s rewards."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry
from strawberry.types import Info

from tessera.assets.policy import get_policy
from tessera.assets.service import pending_window_end
from tessera.checkout.holds import coupons_of, not_open
from tessera.checkout.models import RewardHold
from tessera.checkout.settle import check_codes
from tessera.coupons.models import Coupon as CouponModel
from tessera.coupons.service import applicable_coupons
from tessera.errors import DomainError
from tessera.members.models import Member
from tessera.members.service import find_by_identity
from tessera.orders.inputs import CleanOrder, MemberRef, clean_order
from tessera.rewards.facts import order_facts
from tessera.rewards.pipeline import compute_order_rewards
from tessera.schema.ids import encode_id
from tessera.schema.orders.inputs import RecordOrderInput
from tessera.schema.orders.money import Money
from tessera.schema.permissions import CanRead
from tessera.schema.rewards.types import CouponDiscount, OrderRewardsPreview, RuleAward
from tessera.schema.tiers.types import Tier
from tessera.scope import BrandScope
from tessera.tiers.definitions import list_tiers
from tessera.tiers.models import TierDefinition


@strawberry.type
class RewardsQuery:
    @strawberry.field(
        description="What recording `order` would earn its member now: each active points "
        "rule's points with its key, growth, the tier reached, and the member's coupons "
        "that apply. Computed by the same code as `recordOrder`; writes nothing. The "
        "member must exist. Bad input is a GraphQL error naming the field.",
        permission_classes=[CanRead],
    )
    async def preview_order_rewards(
        self, info: Info, order: RecordOrderInput
    ) -> OrderRewardsPreview:
        scope = info.context.scope
        now = datetime.now(UTC)
        domain = order.to_domain()
        clean = clean_order(domain, scope.brand.currency, now, ["order"])
        member = await _member(scope, domain.member)
        plan = await compute_order_rewards(scope, member, order_facts(clean), now)
        pending_until = None
        if plan.points:
            pending_until = pending_window_end(scope, clean.occurred_at, await get_policy(scope))
        categories = {line.category for line in clean.lines if line.category}
        coupons = await applicable_coupons(
            scope, member.id, clean.amount_paid, categories if clean.lines else None, now
        )
        tiers = {t.code: t for t in await list_tiers(scope)}
        from tessera.schema.coupons.types import Coupon

        applied = await _coupons_applied(scope, member.id, clean, now)

        return OrderRewardsPreview(
            awards=[
                RuleAward(
                    rule=p.rule,
                    points=p.points,
                    reason=p.reason,
                    member_id=strawberry.ID(encode_id("Member", p.member_id)),
                )
                for p in plan.points
            ],
            total_points=plan.total_points,
            pending_until=pending_until
            if pending_until and pending_until > clean.occurred_at
            else None,
            growth=plan.growth,
            tier_before=_tier(tiers, plan.tier_from.code if plan.tier_from else None),
            tier_after=_tier(tiers, plan.tier_to.code if plan.tier_to else None),
            upgrade=plan.upgrades,
            coupons=[Coupon.from_model(c, c.template, scope.brand.currency, now) for c in coupons],
            coupons_applied=[
                CouponDiscount(
                    coupon=Coupon.from_model(c, c.template, scope.brand.currency, now),
                    discount=Money.of(d, scope.brand.currency),
                )
                for c, d in applied
            ],
            coupon_discount=Money.of(sum(d for _, d in applied), scope.brand.currency),
        )


async def _coupons_applied(
    scope: BrandScope, member_id: int, clean: CleanOrder, now: datetime
) -> list[tuple[CouponModel, int]]:
    """What ``recordOrder`` would redeem: the hold's coupons (when it is this
    member's and still open), then the codes, checked as recording checks them."""
    held: list[tuple[CouponModel, int]] = []
    if clean.hold_id is not None:
        hold = await scope.get(RewardHold, clean.hold_id)
        if hold is None or hold.member_id != member_id:
            raise DomainError("NOT_FOUND", "no such hold", ["order", "holdId"])
        if hold.status != "held" or hold.expires_at <= now:
            refused = not_open(hold)
            raise DomainError(refused.code, refused.message, ["order", "holdId"])
        held = [(h.coupon, h.discount) for h in await coupons_of(scope, hold.id)]
    if not clean.coupon_codes:
        return held
    try:
        uses = await check_codes(scope, member_id, clean, settled={c.id for c, _ in held})
    except DomainError as error:
        raise DomainError(error.code, error.message, ["order", *(error.field or [])]) from None
    return held + [(u.coupon, u.discount) for u in uses if not u.linked]


def _tier(tiers: dict[str, TierDefinition], code: str | None) -> Tier | None:
    found = tiers.get(code) if code else None
    return Tier.from_model(found) if found else None


async def _member(scope: BrandScope, ref: MemberRef) -> Member:
    found = None
    if ref.member_id is not None:
        found = await scope.get(Member, ref.member_id)
        field = "memberId"
    elif ref.identity is not None:
        found = await find_by_identity(scope, *ref.identity)
        field = "identity"
    else:
        field = "memberId"
    if found is None:
        raise DomainError("NOT_FOUND", "no such member", ["order", field])
    return found
