"""The built-in scalars with the specifications a code generator can map
(`@specifiedBy`): the schema builder passes them as scalar overrides."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import re
from collections.abc import Callable
from functools import cache
from typing import cast

from dateutil import tz
from strawberry.schema.types.base_scalars import (
    DateDefinition,
    DateTimeDefinition,
    DecimalDefinition,
)
from strawberry.types.scalar import ScalarDefinition

# An instant as clients write it (RFC 3339, "T", seconds, an offset), in
# ranges Python's parser and dateutil's read alike; anything else (another
# separator, an hour 24, a comma, no offset...) is read by dateutil's.
_PLAIN_INSTANT = re.compile(
    r"\d{4}-\d\d-\d\dT(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,6})?"
    r"(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)",
    re.ASCII,
)
# strawberry's reading (dateutil's isoparse, its errors wrapped)
_isoparse = cast("Callable[[object], object]", DateTimeDefinition.parse_value)


def _instant(value: object) -> object:
    """strawberry's ``DateTime`` input (dateutil's ``isoparse``, some 24 µs a
    value: 24 ms of a ``recordOrders`` batch of 1,000 orders), read by
    ``datetime.fromisoformat`` (2-3 µs with the check) for a
    :data:`_PLAIN_INSTANT`, with the offset as dateutil's object (``tzutc()``
    for a zero offset, ``tzoffset(None, seconds)`` otherwise): the same value,
    equal and alike."""
    if type(value) is str and _PLAIN_INSTANT.fullmatch(value):
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:  # e.g. 30 February: dateutil's words for it
            return _isoparse(value)
        offset = parsed.utcoffset()
        assert offset is not None
        return parsed.replace(tzinfo=_offset(int(offset.total_seconds())))
    return _isoparse(value)


@cache  # dateutil's own instances (it caches them too), at most 2,879 of them
def _offset(seconds: int) -> dt.tzinfo:
    return tz.UTC if seconds == 0 else tz.tzoffset(None, seconds)


SPECIFIED: dict[object, ScalarDefinition] = {
    dt.date: dataclasses.replace(
        DateDefinition,
        description="A calendar date, ISO 8601 / RFC 3339 `full-date`, e.g. `2024-05-01`.",
        specified_by_url="https://scalars.graphql.org/andimarek/local-date.html",
    ),
    dt.datetime: dataclasses.replace(
        DateTimeDefinition,
        description="An instant, RFC 3339 `date-time` with an offset, e.g. "
        "`2024-05-01T10:00:00+08:00`.",
        specified_by_url="https://scalars.graphql.org/andimarek/date-time.html",
        parse_value=_instant,
    ),
    decimal.Decimal: dataclasses.replace(
        DecimalDefinition,
        description='An exact decimal number as a string, e.g. `"12.50"`, so no '
        "precision is lost to floating point.",
        specified_by_url="https://scalars.graphql.org/chillicream/decimal.html",
    ),
}
