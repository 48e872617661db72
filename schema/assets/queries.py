"""The brand's points policy, and the asset fields ``Member`` delegates here
(``assets``, ``ledger``, ``pointsExpiring``)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.types import Info
from tortoise.functions import Count

from tessera.assets.models import LedgerEntry as EntryModel
from tessera.assets.policy import get_policy
from tessera.schema.assets.loaders import (
    BalancesByMemberIdLoader,
    expiring_loader,
    ledger_first_page_loader,
)
from tessera.schema.assets.types import (
    AssetKind,
    ExpiringLot,
    ExpiringPoints,
    LedgerEntry,
    MemberAssets,
    PointsPolicy,
)
from tessera.schema.errors import ApiError
from tessera.schema.pagination import Connection, Window, connection_of, encode_cursor, paginate
from tessera.schema.permissions import CanRead
from tessera.scope import BrandScope

MAX_WITHIN_DAYS = 3660


@strawberry.type
class AssetsQuery:
    @strawberry.field(
        description="The brand's points policy (expiry, return window, negative balances).",
        permission_classes=[CanRead],
    )
    async def points_policy(self, info: Info) -> PointsPolicy:
        return PointsPolicy.of(await get_policy(info.context.scope))


async def member_assets(info: Info, member_id: int) -> MemberAssets:
    balances = await BalancesByMemberIdLoader.of(info).load(member_id)
    return MemberAssets.of(balances, info.context.scope.brand.currency)


async def member_points_expiring(info: Info, member_id: int, within_days: int) -> ExpiringPoints:
    if not 1 <= within_days <= MAX_WITHIN_DAYS:
        raise ApiError(f"`withinDays` must be from 1 to {MAX_WITHIN_DAYS}")
    rows = await expiring_loader(info, within_days).load(member_id)
    lots = [ExpiringLot(points=int(r["remaining"]), expires_at=r["expires_at"]) for r in rows]
    return ExpiringPoints(total=sum(lot.points for lot in lots), lots=lots)


async def member_ledger(
    info: Info, member_id: int, kind: AssetKind | None, window: Window
) -> Connection[LedgerEntry]:
    scope: BrandScope = info.context.scope
    currency = scope.brand.currency
    kind_value = kind.value if kind is not None else None
    counts = info.context.loader(
        ("LedgerCountByMemberId", kind_value),
        lambda: DataLoader(partial(_counts, scope, kind_value)),
    )

    def to_node(row: EntryModel) -> LedgerEntry:
        return LedgerEntry.from_model(row, currency)

    cap = info.context.settings.limits.page_size
    if not window.plain:
        query = scope.query(EntryModel).filter(member_id=member_id)
        if kind_value is not None:
            query = query.filter(kind=kind_value)
        connection = await paginate(query, window, cap=cap, to_node=to_node, descending=True)
        connection._count = partial(counts.load, member_id)
        return connection
    size = window.size(cap)
    return connection_of(
        await ledger_first_page_loader(info, kind_value, size).load(member_id),
        window,
        size,
        lambda row: encode_cursor([row.id, row.id]),
        to_node,
        partial(counts.load, member_id),
    )


async def _counts(scope: BrandScope, kind: str | None, member_ids: Sequence[int]) -> list[int]:
    query = scope.query(EntryModel).filter(member_id__in=list(member_ids))
    if kind is not None:
        query = query.filter(kind=kind)
    rows = await query.annotate(n=Count("id")).group_by("member_id").values("member_id", "n")
    found = {row["member_id"]: int(row["n"]) for row in rows}
    return [found.get(m, 0) for m in member_ids]
