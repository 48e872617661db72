"""What Tessera sets on the GraphQL engine under strawberry once a schema is built.

Strawberry resolves a field without a resolver of its own (a plain attribute)
through ``field.get_result``, two properties and the configured default
resolver: four Python calls per field where reading the attribute is one. A
page of 100 members resolves some 2,800 fields, so those calls are a share of
the engine floor itself (DESIGN.md, "Speed of the GraphQL layer")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLObjectType, GraphQLSchema
from strawberry.types.field import StrawberryField

# strawberry's resolver of a basic field (schema_converter.from_resolver); any
# other (a resolver, permissions, field extensions, exception handlers) is kept.
_STRAWBERRY_BASIC = "_get_basic_result"


def plain_attribute_resolvers(schema: GraphQLSchema) -> None:
    """Resolve every plain attribute field by reading the attribute."""
    for named in schema.type_map.values():
        if not isinstance(named, GraphQLObjectType) or named.name.startswith("__"):
            continue
        for field in named.fields.values():
            definition = (field.extensions or {}).get("strawberry-definition")
            if (
                isinstance(definition, StrawberryField)
                and getattr(field.resolve, "__name__", None) == _STRAWBERRY_BASIC
                and definition.is_basic_field
                and definition.default_resolver is getattr
            ):
                field.resolve = _attribute(definition.python_name)


def _attribute(name: str) -> Callable[..., Any]:
    def resolve(source: Any, _info: Any) -> Any:
        return getattr(source, name)

    resolve._is_default = True  # type: ignore[attr-defined]  # as strawberry marks its own
    return resolve
