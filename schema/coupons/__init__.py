"""Coupons over GraphQL: templates, issuing, redeeming, voiding, and the
member's wallet (``Member.coupons``)."""

from __future__ import annotations

from tessera.schema.coupons.mutations import CouponsMutation
from tessera.schema.coupons.queries import CouponsQuery

__all__ = ["CouponsMutation", "CouponsQuery"]
