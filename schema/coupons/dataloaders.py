"""Per-request loaders of the coupons domain (one query per kind per request)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from strawberry.types import Info

from tessera.coupons.models import Coupon
from tessera.coupons.service import CouponStatus, coupons_of_members
from tessera.schema.members.dataloaders import ScopedLoader


class CouponsByMemberIdLoader(ScopedLoader):
    """A member's coupons in one status; one loader per status per request,
    so a page of members costs one query: ``.of(info, status).load(pk)``."""

    status: CouponStatus | None = None

    async def _load(self, keys: Sequence[int]) -> list[list[Coupon]]:
        found = await coupons_of_members(self.scope, keys, self.status, datetime.now(UTC))
        return [found.get(key, []) for key in keys]

    @classmethod
    def of_status(cls, info: Info, status: CouponStatus | None) -> CouponsByMemberIdLoader:
        def make() -> CouponsByMemberIdLoader:
            loader = cls(info.context.scope)
            loader.status = status
            return loader

        loader: CouponsByMemberIdLoader = info.context.loader((cls, status), make)
        return loader
