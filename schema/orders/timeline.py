"""A member's facts newest first (orders, behaviour events) as a Relay
connection that stays one query per page of members.

The first page of every member in a list is loaded together
(:func:`tessera.members.latest.latest_per_member`: two queries for them all).
Any other page (after or before a cursor, or the last ones) is rarer and is
read for its member alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader
from strawberry.types import Info
from tortoise.functions import Count

from tessera.members.latest import latest_per_member
from tessera.models_base import BrandOwned
from tessera.schema.pagination import Connection, Window, connection_of, encode_cursor, paginate
from tessera.scope import BrandScope

T = TypeVar("T")


async def member_timeline(
    info: Info,
    model: type[BrandOwned],
    member_id: int,
    window: Window,
    *,
    to_node: Callable[[Any], T],
) -> Connection[T]:
    scope: BrandScope = info.context.scope
    cap = info.context.settings.limits.page_size
    name = model.__name__
    counts = info.context.loader(
        (name, "CountByMember"), lambda: DataLoader(partial(_counts, scope, model))
    )
    if not window.plain:
        connection = await paginate(
            scope.query(model).filter(member_id=member_id),
            window,
            cap=cap,
            to_node=to_node,
            sort_field="occurred_at",
            descending=True,
        )
        connection._count = partial(counts.load, member_id)
        return connection
    size = window.size(cap)
    latest = info.context.loader(
        (name, "LatestByMember", size), lambda: DataLoader(partial(_latest, scope, model, size))
    )
    return connection_of(
        await latest.load(member_id),
        window,
        size,
        lambda row: encode_cursor([row.occurred_at, row.id]),
        to_node,
        partial(counts.load, member_id),
    )


async def _latest(
    scope: BrandScope, model: type[BrandOwned], size: int, member_ids: Sequence[int]
) -> list[list[Any]]:
    # size + 1 rows tell the connection whether a next page exists.
    found = await latest_per_member(
        scope, model, member_ids, size + 1, newest_first=("occurred_at", "id")
    )
    return [found.get(m, []) for m in member_ids]


async def _counts(
    scope: BrandScope, model: type[BrandOwned], member_ids: Sequence[int]
) -> list[int]:
    rows = (
        await scope.query(model)
        .filter(member_id__in=list(member_ids))
        .annotate(n=Count("id"))
        .group_by("member_id")
        .values("member_id", "n")
    )
    found = {row["member_id"]: int(row["n"]) for row in rows}
    return [found.get(m, 0) for m in member_ids]
