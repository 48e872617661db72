"""Member assets over GraphQL: balances, ledgers, points expiry, the points
policy, and the mutations that move points and stored value."""

from __future__ import annotations

from tessera.schema.assets.mutations import AssetsMutation
from tessera.schema.assets.queries import AssetsQuery

__all__ = ["AssetsMutation", "AssetsQuery"]
