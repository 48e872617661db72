"""Every permission on the schema refuses the same way: with the one
``Forbidden`` error, so the ``FORBIDDEN`` code is defined once."""

from __future__ import annotations

from tessera.config import Settings
from tessera.schema import build_schema
from tessera.schema.errors import Forbidden
from tessera.schema.permissions import Permission


def _permission_classes() -> set[type]:
    schema = build_schema(Settings())
    found: set[type] = set()
    for graphql_type in schema._schema.type_map.values():
        definition = (getattr(graphql_type, "extensions", None) or {}).get("strawberry-definition")
        for field in getattr(definition, "fields", []):
            found.update(field.permission_classes)
    return found


def test_every_permission_on_the_schema_refuses_with_forbidden():
    classes = _permission_classes()
    assert len(classes) >= 5  # read, write, admin, member, write-or-member
    for cls in classes:
        assert issubclass(cls, Permission), f"{cls.__qualname__} does not derive from Permission"
        assert cls.error_class is Forbidden and not cls.error_extensions
