"""Reading coupons: one by code, templates, and a member's wallet (the field
the ``Member`` type delegates here)."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry
from strawberry.types import Info

from tessera.coupons.models import CouponTemplate as TemplateModel
from tessera.coupons.service import CouponStatus, find_coupon
from tessera.schema.coupons.dataloaders import CouponsByMemberIdLoader
from tessera.schema.coupons.types import Coupon, CouponTemplate
from tessera.schema.ids import decode_id
from tessera.schema.pagination import Connection, Window, page_of_list, paginate
from tessera.schema.permissions import CanRead


@strawberry.type
class CouponsQuery:
    @strawberry.field(
        description="A coupon of the caller's brand by its code (as typed: case, hyphens and "
        "look-alike characters forgiven); null when there is none.",
        permission_classes=[CanRead],
    )
    async def coupon(self, info: Info, code: str) -> Coupon | None:
        scope = info.context.scope
        found = await find_coupon(scope, code)
        if found is None:
            return None
        return Coupon.from_model(found, found.template, scope.brand.currency, datetime.now(UTC))

    @strawberry.field(
        description="A coupon template by id; null when there is none.",
        permission_classes=[CanRead],
    )
    async def coupon_template(self, info: Info, id: strawberry.ID) -> CouponTemplate | None:
        scope = info.context.scope
        pk = decode_id(str(id), "CouponTemplate")
        found = None if pk is None else await scope.get(TemplateModel, pk)
        return None if found is None else CouponTemplate.from_model(found, scope.brand.currency)

    @strawberry.field(
        description="The brand's coupon templates, newest first; `active` filters by the flag.",
        permission_classes=[CanRead],
    )
    async def coupon_templates(
        self,
        info: Info,
        active: bool | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[CouponTemplate]:
        scope = info.context.scope
        query = scope.query(TemplateModel)
        if active is not None:
            query = query.filter(active=active)
        currency = scope.brand.currency
        return await paginate(
            query,
            Window(first, after, last, before),
            cap=info.context.settings.limits.page_size,
            to_node=lambda row: CouponTemplate.from_model(row, currency),
            descending=True,
        )


async def member_coupons(
    info: Info, member_id: int, status: CouponStatus | None, window: Window
) -> Connection[Coupon]:
    # A member's coupons stay few enough to load whole (one query for a page of
    # members) and page in memory.
    scope = info.context.scope
    rows = await CouponsByMemberIdLoader.of_status(info, status).load(member_id)
    now = datetime.now(UTC)
    return page_of_list(
        rows,
        window,
        cap=info.context.settings.limits.page_size,
        sort_key=lambda c: (c.issued_at, c.id),
        to_node=lambda c: Coupon.from_model(c, c.template, scope.brand.currency, now),
    )
