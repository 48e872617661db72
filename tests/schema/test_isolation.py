"""The brand wall, checked through every root field of the schema.

The list of fields comes from the schema itself, so a new root field without
an isolation probe here is a failing test, not a forgotten check.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tessera.config import Environment, Settings
from tessera.features.models import BrandFeature
from tessera.schema import build_schema
from tessera.tenancy.models import Brand


@dataclass
class World:
    """Two brands with data; probes act with brand A's admin key on brand B's data."""

    brand_a: Brand
    brand_b: Brand
    as_a: Callable[..., Awaitable[dict[str, Any]]]
    as_b: Callable[..., Awaitable[dict[str, Any]]]


Probe = Callable[[World], Awaitable[None]]
PROBES: dict[str, Probe] = {}


def probe(*fields: str) -> Callable[[Probe], Probe]:
    def register(fn: Probe) -> Probe:
        for field in fields:
            PROBES[field] = fn
        return fn

    return register


def root_fields() -> list[str]:
    schema = build_schema(Settings(environment=Environment.TEST, secret_key="x" * 32))  # type: ignore[arg-type]
    graphql_schema = schema._schema
    names = [f"Query.{n}" for n in graphql_schema.query_type.fields]
    if graphql_schema.mutation_type:
        names += [f"Mutation.{n}" for n in graphql_schema.mutation_type.fields]
    return sorted(names)


@pytest.fixture
async def world(brand_a, brand_b, api_key, gql) -> World:
    token_a = await api_key(brand_a, "admin")
    token_b = await api_key(brand_b, "admin")

    async def as_a(query: str, variables: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        return await gql(query, variables, token=token_a, **kw)

    async def as_b(query: str, variables: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        return await gql(query, variables, token=token_b, **kw)

    w = World(brand_a, brand_b, as_a, as_b)
    await as_b(
        'mutation { setFeature(input: {component: "console_sms", config: {channel_label: "b-only"}})'
        " { errors { message } } }"
    )
    return w


@pytest.mark.parametrize("field", root_fields())
async def test_brand_a_cannot_reach_brand_b_through(field: str, world: World) -> None:
    check = PROBES.get(field)
    assert check is not None, f"{field} has no isolation probe in {__name__}; add one"
    await check(world)


# --- probes -----------------------------------------------------------------


@probe("Query.brand")
async def _brand(w: World) -> None:
    data = await w.as_a("{ brand { id code } }")
    assert data["brand"]["code"] == w.brand_a.code


@probe("Query.plugins")
async def _plugins(w: World) -> None:
    # Installed plugins are the same for every brand; nothing brand-specific shows.
    assert await w.as_a("{ plugins { name components { key } } }") == await w.as_b(
        "{ plugins { name components { key } } }"
    )


@probe("Query.features")
async def _features(w: World) -> None:
    data = await w.as_a("{ features { component config } }")
    assert data["features"] == []
    assert "b-only" not in str(data)


@probe("Mutation.setFeature")
async def _set_feature(w: World) -> None:
    await w.as_a(
        'mutation { setFeature(input: {component: "console_sms", enabled: false}) { errors { code } } }'
    )
    b_feature = await BrandFeature.get(brand_id=w.brand_b.id, component_key="console_sms")
    assert b_feature.enabled and b_feature.config == {"channel_label": "b-only"}
