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
    assert len(classes) >= 6  # read, write, manage, admin, member, write-or-member
    for cls in classes:
        assert issubclass(cls, Permission), f"{cls.__qualname__} does not derive from Permission"
        assert cls.error_class is Forbidden and not cls.error_extensions


CREATE_TAG = 'mutation { createTag(input: {code: "vip", name: "VIP"}) { tag { code } } }'


async def test_running_the_programme_needs_manage_and_write_is_not_enough(gql, api_key, brand_a):
    refused = await gql(CREATE_TAG, token=await api_key(brand_a, "write"), errors_ok=True)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert refused["data"] is None
    created = await gql(CREATE_TAG, token=await api_key(brand_a, "manage"))
    assert created["createTag"]["tag"] == {"code": "vip"}
