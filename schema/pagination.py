"""Relay connections with keyset pagination (API.md, Shapes).

``first`` defaults to 20 and is capped at the configured page size (100);
cursors are opaque and stable under inserts because they carry the sort key
and the id, not an offset.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar

import strawberry
from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from tessera.schema.errors import ApiError

T = TypeVar("T")
DEFAULT_PAGE = 20


@strawberry.type(description="Where a page sits in a connection.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow `endCursor`.")
    end_cursor: str | None = strawberry.field(
        description="Cursor of the last edge; pass as `after`."
    )


@strawberry.type(description="One item of a connection and its cursor.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Opaque position of this item.")
    node: T = strawberry.field(description="The item.")


@strawberry.type(description="A page of a list that can grow.")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The items of this page.")
    page_info: PageInfo = strawberry.field(description="Whether more pages follow.")
    _count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many items the whole list has (all pages).")
    async def total_count(self) -> int:
        return await self._count()


class BadCursor(ApiError):
    code = "BAD_CURSOR"


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode())
        values = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadCursor("`after` is not a cursor this list gave out") from None
    if not isinstance(values, list) or len(values) != 2:
        raise BadCursor("`after` is not a cursor this list gave out")
    return values


def page_size(first: int | None, cap: int) -> int:
    if first is None:
        return min(DEFAULT_PAGE, cap)
    if first < 0:
        raise ApiError("`first` must not be negative")
    return min(first, cap)


async def paginate(
    query: QuerySet[Any],
    *,
    first: int | None,
    after: str | None,
    cap: int,
    to_node: Callable[[Any], T],
    sort_field: str = "id",
    descending: bool = False,
    columns: Sequence[str] | None = None,
) -> Connection[T]:
    """One page of ``query`` ordered by ``sort_field`` then id, in one SQL query
    (plus one COUNT, only when ``totalCount`` is selected). With ``columns``
    the rows reach ``to_node`` as plain dicts of those columns (which must
    include ``id`` and ``sort_field``), not model instances: hot pages skip
    the ORM's per-row object building."""
    size = page_size(first, cap)
    count_query = query
    page_query = query
    if after is not None:
        value, last_id = decode_cursor(after)
        if sort_field != "id" and isinstance(value, str):
            field = query.model._meta.fields_map.get(sort_field)
            if field is not None and field.field_type is datetime:
                value = datetime.fromisoformat(value)
        op = "lt" if descending else "gt"
        if sort_field == "id":
            page_query = page_query.filter(**{f"id__{op}": last_id})
        elif value is None:
            page_query = page_query.filter(
                Q(**{f"{sort_field}__isnull": True}) & Q(**{f"id__{op}": last_id})  # type: ignore[arg-type]
            )
        else:
            page_query = page_query.filter(
                Q(**{f"{sort_field}__{op}": value})
                | (Q(**{sort_field: value}) & Q(**{f"id__{op}": last_id}))
            )
    prefix = "-" if descending else ""
    order = [f"{prefix}{sort_field}", f"{prefix}id"] if sort_field != "id" else [f"{prefix}id"]
    ordered = page_query.order_by(*order).limit(size + 1)
    rows: list[Any] = list(await (ordered.values(*columns) if columns else ordered))
    has_next = len(rows) > size
    rows = rows[:size]
    if columns:
        edges = [
            Edge(cursor=encode_cursor([row[sort_field], row["id"]]), node=to_node(row))
            for row in rows
        ]
    else:
        edges = [
            Edge(cursor=encode_cursor([getattr(row, sort_field), row.id]), node=to_node(row))
            for row in rows
        ]
    return Connection(
        edges=edges,
        page_info=PageInfo(has_next_page=has_next, end_cursor=edges[-1].cursor if edges else None),
        _count=count_query.count,
    )
