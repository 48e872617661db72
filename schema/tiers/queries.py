"""`tiers`, `tier(id)` and the resolvers behind `Member.tier*`."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from tessera.members.models import Member as MemberModel
from tessera.rewards.reviews import tier_progress
from tessera.schema.ids import decode_id
from tessera.schema.pagination import Connection, Window, page_of_list
from tessera.schema.permissions import CanRead
from tessera.schema.tiers.loaders import TierHistoryByMemberIdLoader, TierStateByMemberIdLoader
from tessera.schema.tiers.types import Tier, TierChange, TierProgress
from tessera.tiers.definitions import list_tiers
from tessera.tiers.models import TierDefinition


@strawberry.type
class TiersQuery:
    @strawberry.field(
        description="The brand's tiers, lowest rank first.", permission_classes=[CanRead]
    )
    async def tiers(self, info: Info) -> list[Tier]:
        return [Tier.from_model(t) for t in await list_tiers(info.context.scope)]

    @strawberry.field(description="One tier by id.", permission_classes=[CanRead])
    async def tier(self, info: Info, id: strawberry.ID) -> Tier | None:
        pk = decode_id(str(id), "Tier")
        found = await info.context.scope.get(TierDefinition, pk) if pk is not None else None
        return Tier.from_model(found) if found else None


async def member_tier(info: Info, member_pk: int) -> Tier | None:
    state = await TierStateByMemberIdLoader.of(info).load(member_pk)
    return Tier.from_model(state.tier) if state is not None and state.tier else None


async def member_tier_expires_at(info: Info, member_pk: int) -> datetime | None:
    state = await TierStateByMemberIdLoader.of(info).load(member_pk)
    return state.expires_at if state is not None and state.tier_id else None


async def member_tier_history(info: Info, member_pk: int, window: Window) -> Connection[TierChange]:
    rows = await TierHistoryByMemberIdLoader.of(info).load(member_pk)
    return page_of_list(
        rows,
        window,
        cap=info.context.settings.limits.page_size,
        sort_key=lambda row: (row.at, row.id),
        to_node=TierChange.from_model,
        descending=False,
    )


async def member_tier_progress(info: Info, member_pk: int) -> TierProgress:
    scope = info.context.scope
    member = await scope.get(MemberModel, member_pk)
    if member is None:
        return TierProgress.of(None, None, scope.brand.currency)
    found = await tier_progress(scope, member)
    return TierProgress.of(found.next_tier, found.progress, scope.brand.currency)
