"""Per-request batch loaders for members (one query per kind per request)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

from strawberry.dataloader import DataLoader
from strawberry.types import Info

from tessera.members import service
from tessera.members.models import Member, MemberIdentity
from tessera.scope import BrandScope


class ScopedLoader(DataLoader[int, Any]):
    """A loader bound to the caller's brand scope, one per class per request:
    ``IdentitiesByMemberIdLoader.of(info).load(member_pk)``."""

    def __init__(self, scope: BrandScope) -> None:
        super().__init__(load_fn=self._load)
        self.scope = scope

    async def _load(self, keys: Sequence[int]) -> list[Any]:
        raise NotImplementedError

    @classmethod
    def of(cls, info: Info) -> Self:
        loader: Self = info.context.loader(cls, lambda: cls(info.context.scope))
        return loader


class IdentitiesByMemberIdLoader(ScopedLoader):
    async def _load(self, keys: Sequence[int]) -> list[list[MemberIdentity]]:
        found = await service.identities_of(self.scope, keys)
        return [found[key] for key in keys]


class MemberByIdLoader(ScopedLoader):
    async def _load(self, keys: Sequence[int]) -> list[Member | None]:
        found = {m.id: m for m in await self.scope.query(Member).filter(id__in=list(keys))}
        return [found.get(key) for key in keys]
