"""Rewards in the API: `checkIn`, `previewOrderRewards`, `redeemPointsForOrder`,
`recordReferral`."""

from tessera.schema.rewards.mutations import RewardsMutation
from tessera.schema.rewards.queries import RewardsQuery

__all__ = ["RewardsMutation", "RewardsQuery"]
