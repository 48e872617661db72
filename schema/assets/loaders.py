"""Per-request loaders for the asset fields of ``Member``: one query per kind
of field for a whole page of members."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from strawberry.dataloader import DataLoader
from strawberry.types import Info

from tessera.assets import service
from tessera.assets.models import LedgerEntry, PointsLot
from tessera.members.latest import latest_per_member
from tessera.schema.members.dataloaders import ScopedLoader
from tessera.scope import BrandScope


class BalancesByMemberIdLoader(ScopedLoader):
    async def _load(self, keys: Sequence[int]) -> list[service.Balances]:
        found = await service.balances(self.scope, keys)
        return [found[key] for key in keys]


def expiring_loader(info: Info, within_days: int) -> DataLoader[int, list[dict[str, Any]]]:
    scope = info.context.scope
    return info.context.loader(
        ("ExpiringLotsByMemberId", within_days),
        lambda: DataLoader(partial(_expiring, scope, within_days)),
    )


async def _expiring(
    scope: BrandScope, within_days: int, member_ids: Sequence[int]
) -> list[list[dict[str, Any]]]:
    now = datetime.now(UTC)
    rows = (
        await scope.query(PointsLot)
        .filter(account__member_id__in=list(member_ids), status="available", remaining__gt=0)
        .filter(expires_at__gt=now, expires_at__lte=now + timedelta(days=within_days))
        .order_by("expires_at", "id")
        .values("account__member_id", "remaining", "expires_at")
    )
    by_member: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_member[row["account__member_id"]].append(row)
    return [by_member.get(m, []) for m in member_ids]


def ledger_first_page_loader(info: Info, kind: str | None, size: int) -> DataLoader[int, list[Any]]:
    scope = info.context.scope
    return info.context.loader(
        ("LedgerFirstPageByMemberId", kind, size),
        lambda: DataLoader(partial(_first_pages, scope, kind, size)),
    )


async def _first_pages(
    scope: BrandScope, kind: str | None, size: int, member_ids: Sequence[int]
) -> list[list[LedgerEntry]]:
    # size + 1 rows tell the connection whether a next page exists.
    where = {"kind": service.KINDS[kind]} if kind is not None else {}
    found = await latest_per_member(
        scope, LedgerEntry, member_ids, size + 1, newest_first=("id",), **where
    )
    return [found.get(m, []) for m in member_ids]
