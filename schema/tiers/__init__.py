"""Tiers in the API: `tiers`, tier CRUD, and the tier fields of `Member`."""

from tessera.schema.tiers.mutations import TiersMutation
from tessera.schema.tiers.queries import TiersQuery

__all__ = ["TiersMutation", "TiersQuery"]
