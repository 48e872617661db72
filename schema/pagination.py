"""Relay connections with keyset pagination (API.md, Shapes).

``first`` (or ``last``) defaults to 20 and is capped at the configured page
size (100); ``after``/``before`` bound the page on either side;
cursors are opaque and stable under inserts because they carry the sort key
and the id, not an offset.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import orjson
import strawberry
from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from tessera.schema.errors import ApiError

T = TypeVar("T")
DEFAULT_PAGE = 20


@strawberry.type(description="Where a page sits in a connection.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow `endCursor`.")
    has_previous_page: bool = strawberry.field(
        description="More items precede `startCursor` (known when paging backwards with "
        "`last`; when paging forwards, true whenever `after` was given)."
    )
    start_cursor: str | None = strawberry.field(
        description="Cursor of the first edge; pass as `before` for the page before."
    )
    end_cursor: str | None = strawberry.field(
        description="Cursor of the last edge; pass as `after` for the page after."
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
    # orjson writes a datetime as its ISO 8601 text, as decode_cursor's
    # callers read it back; a page encodes a cursor per edge, and orjson does
    # one in a tenth of json.dumps's time. (Cursors of earlier releases,
    # json.dumps's text, read back the same.)
    return base64.urlsafe_b64encode(orjson.dumps(values)).rstrip(b"=").decode()


def decode_cursor(cursor: str, argument: str = "after") -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode())
        values = orjson.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadCursor(f"`{argument}` is not a cursor this list gave out") from None
    if not isinstance(values, list) or len(values) != 2:
        raise BadCursor(f"`{argument}` is not a cursor this list gave out")
    return values


def page_size(first: int | None, cap: int, argument: str = "first") -> int:
    if first is None:
        return min(DEFAULT_PAGE, cap)
    if first < 0:
        raise ApiError(f"`{argument}` must not be negative")
    return min(first, cap)


@dataclass(frozen=True)
class Window:
    """The Relay arguments of one connection field: `first`/`after` page
    forwards from the start, `last`/`before` backwards from the end."""

    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None

    @property
    def backwards(self) -> bool:
        return self.last is not None

    @property
    def plain(self) -> bool:
        """The first page, which per-member fast paths serve for many members at once."""
        return self.after is None and self.before is None and self.last is None

    def size(self, cap: int) -> int:
        if self.first is not None and self.last is not None:
            raise ApiError("pass `first` or `last`, not both")
        if self.backwards:
            return page_size(self.last, cap, "last")
        return page_size(self.first, cap)


def _sort_value(
    query: QuerySet[Any], sort_field: str, value: Any, last_id: Any, argument: str
) -> Any:
    """The cursor's sort key as the column's type. A cursor of another list (or
    order) holds a key of another type, which the database would refuse with
    an error of its own; it is the caller's mistake, so it is ``BAD_CURSOR``."""
    mistake = BadCursor(f"`{argument}` is not a cursor this list gave out")
    if not isinstance(last_id, int) or isinstance(last_id, bool):
        raise mistake
    if sort_field == "id" or value is None:
        return value
    field = query.model._meta.fields_map.get(sort_field)
    kind = field.field_type if field is not None else None
    if kind is datetime:
        if not isinstance(value, str):
            raise mistake
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            raise mistake from None
    if kind is str and not isinstance(value, str):
        raise mistake
    if kind is int and (not isinstance(value, int) or isinstance(value, bool)):
        raise mistake
    return value


def _seek(
    query: QuerySet[Any], cursor: str, argument: str, sort_field: str, later: bool
) -> QuerySet[Any]:
    """Rows strictly after (``later``) or before the cursor in (sort key, id) order."""
    value, last_id = decode_cursor(cursor, argument)
    value = _sort_value(query, sort_field, value, last_id, argument)
    op = "gt" if later else "lt"
    if sort_field == "id":
        return query.filter(**{f"id__{op}": last_id})
    if value is None:
        return query.filter(
            Q(**{f"{sort_field}__isnull": True}) & Q(**{f"id__{op}": last_id})  # type: ignore[arg-type]
        )
    return query.filter(
        Q(**{f"{sort_field}__{op}": value})
        | (Q(**{sort_field: value}) & Q(**{f"id__{op}": last_id}))
    )


def row_cursor(sort_field: str) -> Callable[[Mapping[str, Any]], str]:
    """The cursor of a plain row (a dict of columns with ``id``) in a list
    ordered by ``sort_field`` then id."""
    return lambda row: encode_cursor([row[sort_field], row["id"]])


def connection_of(
    rows: Sequence[Any],
    window: Window,
    size: int,
    cursor_of: Callable[[Any], str],
    to_node: Callable[[Any], T],
    count: Callable[[], Awaitable[int]],
) -> Connection[T]:
    """A page from ``rows``: up to ``size + 1`` rows in list order read from the
    window's edge (reversed already when paging backwards); the extra row only
    says that more follow."""
    more = len(rows) > size
    page = list(rows[:size])
    if window.backwards:
        page.reverse()
    edges = [Edge(cursor=cursor_of(row), node=to_node(row)) for row in page]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=window.before is not None if window.backwards else more,
            has_previous_page=more if window.backwards else window.after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        _count=count,
    )


async def paginate(
    query: QuerySet[Any],
    window: Window,
    *,
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
    size = window.size(cap)
    page_query = query
    if window.after is not None:
        page_query = _seek(page_query, window.after, "after", sort_field, not descending)
    if window.before is not None:
        page_query = _seek(page_query, window.before, "before", sort_field, descending)
    # Backwards, read from the end of the list: the opposite order, reversed after.
    reverse = descending != window.backwards
    prefix = "-" if reverse else ""
    order = [f"{prefix}{sort_field}", f"{prefix}id"] if sort_field != "id" else [f"{prefix}id"]
    ordered = page_query.order_by(*order).limit(size + 1)
    rows: list[Any] = list(await (ordered.values(*columns) if columns else ordered))
    return connection_of(
        rows,
        window,
        size,
        row_cursor(sort_field)
        if columns
        else (lambda row: encode_cursor([getattr(row, sort_field), row.id])),
        to_node,
        query.count,
    )


def _later(key: tuple[Any, int], than: tuple[Any, int], descending: bool) -> bool:
    """Whether ``key`` comes strictly after ``than`` in the list's order."""
    return key < than if descending else key > than


def page_of_list(
    rows: Sequence[Any],
    window: Window,
    *,
    cap: int,
    sort_key: Callable[[Any], tuple[Any, int]],
    to_node: Callable[[Any], T],
    descending: bool = True,
) -> Connection[T]:
    """A page of a list a dataloader already holds whole, in its order (by
    ``sort_key``, newest first unless not ``descending``), with the cursors
    `paginate` gives."""
    size = window.size(cap)

    def position(cursor: str, argument: str) -> tuple[Any, int]:
        value, pk = decode_cursor(cursor, argument)
        if rows and isinstance(sort_key(rows[0])[0], datetime) and isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value, pk

    chosen = list(rows)
    try:
        if window.after is not None:
            after = position(window.after, "after")
            chosen = [r for r in chosen if _later(sort_key(r), after, descending)]
        if window.before is not None:
            before = position(window.before, "before")
            chosen = [r for r in chosen if _later(before, sort_key(r), descending)]
    except TypeError:
        raise BadCursor("the cursor is not one this list gave out") from None
    if window.backwards:
        chosen.reverse()

    async def count() -> int:
        return len(rows)

    return connection_of(
        chosen[: size + 1],
        window,
        size,
        lambda row: encode_cursor(list(sort_key(row))),
        to_node,
        count,
    )
