"""Checkout over GraphQL: ``holdRewards`` and ``releaseHold`` (``recordOrder``
confirms a hold with ``holdId``)."""

from __future__ import annotations

from tessera.schema.checkout.mutations import CheckoutMutation

__all__ = ["CheckoutMutation"]
