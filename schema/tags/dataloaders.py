"""Per-request batch loaders for tags (one query per kind per request)."""

from __future__ import annotations

from collections.abc import Sequence

from tessera.schema.members.dataloaders import ScopedLoader
from tessera.tags import service
from tessera.tags.models import TagAssignment, TagGroup


class TagAssignmentsByMemberIdLoader(ScopedLoader):
    """A member's live (unexpired) tag assignments, with their tags."""

    async def _load(self, keys: Sequence[int]) -> list[list[TagAssignment]]:
        found = await service.assignments_of(self.scope, keys)
        return [found[key] for key in keys]


class TagGroupByIdLoader(ScopedLoader):
    async def _load(self, keys: Sequence[int]) -> list[TagGroup | None]:
        found = await service.groups_by_id(self.scope, keys)
        return [found.get(key) for key in keys]
