"""The built-in scalars with the specifications a code generator can map
(`@specifiedBy`): the schema builder passes them as scalar overrides."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal

from strawberry.schema.types.base_scalars import (
    DateDefinition,
    DateTimeDefinition,
    DecimalDefinition,
)
from strawberry.types.scalar import ScalarDefinition

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
    ),
    decimal.Decimal: dataclasses.replace(
        DecimalDefinition,
        description='An exact decimal number as a string, e.g. `"12.50"`, so no '
        "precision is lost to floating point.",
        specified_by_url="https://scalars.graphql.org/chillicream/decimal.html",
    ),
}
