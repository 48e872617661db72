"""Per-request batch loaders for segments and members' lifecycle."""

from __future__ import annotations

from collections.abc import Sequence

from tessera.schema.members.dataloaders import ScopedLoader
from tessera.segments import lifecycle, service
from tessera.segments.models import MemberLifecycle, SegmentRefresh, SegmentSizeHistory


class LastRefreshBySegmentIdLoader(ScopedLoader):
    async def _load(self, keys: Sequence[int]) -> list[SegmentRefresh | None]:
        found = await service.last_refreshes(self.scope, keys)
        return [found.get(key) for key in keys]


class SizeHistoryBySegmentIdLoader(ScopedLoader):
    async def _load(self, keys: Sequence[int]) -> list[list[SegmentSizeHistory]]:
        found = await service.size_history(self.scope, keys, service.SIZE_HISTORY_LIMIT)
        return [found[key] for key in keys]


class LifecycleByMemberIdLoader(ScopedLoader):
    async def _load(self, keys: Sequence[int]) -> list[MemberLifecycle | None]:
        found = await lifecycle.lifecycle_of(self.scope, keys)
        return [found.get(key) for key in keys]
