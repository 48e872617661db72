"""Per-request loaders of members' tier state and history."""

from __future__ import annotations

from collections.abc import Sequence

from tessera.schema.members.dataloaders import ScopedLoader
from tessera.tiers import service
from tessera.tiers.models import MemberTierState, TierHistory


class TierStateByMemberIdLoader(ScopedLoader):
    async def _load(self, keys: Sequence[int]) -> list[MemberTierState | None]:
        found = await service.states_of(self.scope, keys)
        return [found.get(key) for key in keys]


class TierHistoryByMemberIdLoader(ScopedLoader):
    async def _load(self, keys: Sequence[int]) -> list[list[TierHistory]]:
        found = await service.history_of(self.scope, keys)
        return [found[key] for key in keys]
