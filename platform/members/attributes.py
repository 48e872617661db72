"""Custom member attributes: each brand defines its own keys, types and rules,
and every write of a member's attributes is checked against them."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from tortoise import connections

from tessera.errors import DomainError, DomainErrors
from tessera.members.models import AttributeDefinition, Member
from tessera.scope import BrandScope

_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_DEFINITIONS = 200
MAX_STRING = 1000
MAX_ALLOWED_VALUES = 200


class AttributeType(StrEnum):
    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    ENUM = "enum"


@dataclass(frozen=True)
class DefinitionValues:
    """What an operator may set on a definition (``None``: leave as it is)."""

    label: str | None = None
    description: str | None = None
    required: bool | None = None
    allowed_values: list[str] | None = None


async def list_definitions(scope: BrandScope) -> list[AttributeDefinition]:
    return await scope.query(AttributeDefinition).order_by("key")


async def definitions_by_key(scope: BrandScope) -> dict[str, AttributeDefinition]:
    return {d.key: d for d in await list_definitions(scope)}


def _check_allowed(kind: AttributeType, allowed: list[str] | None) -> list[str]:
    if kind is not AttributeType.ENUM:
        if allowed:
            raise DomainError(
                "INVALID", "only enum attributes take allowed values", ["allowedValues"]
            )
        return []
    values = [v.strip() for v in allowed or []]
    if not values:
        raise DomainError("INVALID", "an enum attribute needs allowed values", ["allowedValues"])
    if len(values) > MAX_ALLOWED_VALUES or len(set(values)) != len(values) or "" in values:
        raise DomainError(
            "INVALID",
            f"allowed values must be 1-{MAX_ALLOWED_VALUES} distinct non-empty strings",
            ["allowedValues"],
        )
    return values


async def create_definition(
    scope: BrandScope, key: str, kind: AttributeType, values: DefinitionValues
) -> AttributeDefinition:
    if not _KEY.match(key):
        raise DomainError(
            "INVALID",
            "key must be 1-64 lower-case letters, digits or '_', starting with a letter",
            ["key"],
        )
    allowed = _check_allowed(kind, values.allowed_values)
    existing = await scope.query(AttributeDefinition).values_list("key", flat=True)
    if key in existing:
        raise DomainError("DUPLICATE", f"attribute {key!r} is already defined", ["key"])
    if len(existing) >= MAX_DEFINITIONS:
        raise DomainError("TOO_MANY", f"a brand has at most {MAX_DEFINITIONS} attributes", ["key"])
    return await scope.create(
        AttributeDefinition,
        key=key,
        type=kind.value,
        label=(values.label or "").strip(),
        description=values.description or "",
        required=bool(values.required),
        allowed_values=allowed,
    )


async def get_definition(scope: BrandScope, key: str) -> AttributeDefinition:
    # A key no definition could have (say, over the column's 64 characters,
    # which the ORM refuses with an error of its own) names none.
    definition = (
        await scope.query(AttributeDefinition).get_or_none(key=key) if _KEY.match(key) else None
    )
    if definition is None:
        raise DomainError("NOT_FOUND", f"no attribute {key!r}", ["key"])
    return definition


async def update_definition(
    scope: BrandScope, key: str, values: DefinitionValues
) -> AttributeDefinition:
    """Change what an attribute means to people; its key and type are fixed
    because stored values were validated against them."""
    definition = await get_definition(scope, key)
    if values.allowed_values is not None:
        definition.allowed_values = _check_allowed(
            AttributeType(definition.type), values.allowed_values
        )
    if values.label is not None:
        definition.label = values.label.strip()
    if values.description is not None:
        definition.description = values.description
    if values.required is not None:
        definition.required = values.required
    await definition.save()
    return definition


async def delete_definition(scope: BrandScope, key: str) -> None:
    """Remove the definition and every member's value for it, in one statement."""
    from tessera.uow import unit_of_work

    definition = await get_definition(scope, key)
    async with unit_of_work(scope) as uow:
        await definition.delete(using_db=uow.connection)
        conn = uow.connection
        table = Member._meta.db_table
        # The key matched _KEY when it was created, so it is safe inside the path.
        if conn.capabilities.dialect == "postgres":
            sql = (
                f'UPDATE "{table}" SET attributes = attributes - $1 '
                "WHERE brand_id = $2 AND attributes ? $1"
            )
            await conn.execute_query(sql, [key, scope.brand_id])
        else:
            sql = (
                f"UPDATE \"{table}\" SET attributes = json_remove(attributes, '$.{key}') "
                f"WHERE brand_id = ? AND json_type(attributes, '$.{key}') IS NOT NULL"
            )
            await conn.execute_query(sql, [scope.brand_id])


def _coerce(definition: AttributeDefinition, value: Any, field: list[str]) -> Any:
    kind = AttributeType(definition.type)
    wrong = DomainError(
        "INVALID_ATTRIBUTE", f"attribute {definition.key!r} must be a {kind.value}", field
    )
    if kind is AttributeType.STRING:
        if not isinstance(value, str):
            raise wrong
        if len(value) > MAX_STRING:
            raise DomainError(
                "INVALID_ATTRIBUTE",
                f"attribute {definition.key!r} is over {MAX_STRING} characters",
                field,
            )
        return value
    if kind is AttributeType.NUMBER:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise wrong
        return value
    if kind is AttributeType.BOOLEAN:
        if not isinstance(value, bool):
            raise wrong
        return value
    if kind is AttributeType.DATE:
        # Stored as YYYY-MM-DD so that text comparison is date comparison.
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            try:
                return date.fromisoformat(value).isoformat()
            except ValueError:
                pass
        raise DomainError(
            "INVALID_ATTRIBUTE", f"attribute {definition.key!r} must be a date as YYYY-MM-DD", field
        )
    if not isinstance(value, str) or value not in definition.allowed_values:
        raise DomainError(
            "INVALID_ATTRIBUTE",
            f"attribute {definition.key!r} must be one of {', '.join(definition.allowed_values)}",
            field,
        )
    return value


def merge_attributes(
    definitions: dict[str, AttributeDefinition],
    current: dict[str, Any],
    changes: Any,
    *,
    field: list[str],
) -> dict[str, Any]:
    """``current`` with ``changes`` applied (a null value removes the key),
    checked against the brand's definitions. All problems are reported at once."""
    if not isinstance(changes, dict):
        raise DomainError("INVALID", "attributes must be a JSON object", field)
    errors: list[DomainError] = []
    result = dict(current)
    for key, value in changes.items():
        definition = definitions.get(key)
        if definition is None:
            errors.append(
                DomainError(
                    "UNKNOWN_ATTRIBUTE", f"no custom attribute {key!r} is defined", [*field, key]
                )
            )
        elif value is None:
            result.pop(key, None)
        else:
            try:
                result[key] = _coerce(definition, value, [*field, key])
            except DomainError as error:
                errors.append(error)
    for key, definition in definitions.items():
        if definition.required and result.get(key) is None:
            errors.append(DomainError("REQUIRED", f"attribute {key!r} is required", [*field, key]))
    if errors:
        raise DomainErrors(errors)
    return result


def attribute_sql(dialect: str, definition: AttributeDefinition) -> str:
    """A SQL expression for one attribute of the ``member`` row, typed so that
    comparisons work: numbers as numbers; dates (ISO), strings and enums as
    text; booleans as the text ``true``/``false``."""
    key = definition.key  # matched _KEY when created
    kind = AttributeType(definition.type)
    if dialect == "postgres":
        if kind is AttributeType.NUMBER:
            return f'("member"."attributes"->>\'{key}\')::numeric'
        return f'("member"."attributes"->>\'{key}\')'
    if kind is AttributeType.BOOLEAN:
        return f'json_type("member"."attributes", \'$.{key}\')'
    return f'json_extract("member"."attributes", \'$.{key}\')'


def connection_dialect() -> str:
    return str(connections.get("default").capabilities.dialect)
