"""Recommendation slots end to end: orders recorded, the model job run,
``slot(key)`` answered from the stored rows with a reason per item."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from documents import RESOLVE

from tessera.orders.inputs import LineInput, MemberRef, OrderInput
from tessera.orders.money import MoneyAmount
from tessera.pipeline.orders import record_order
from tessera.scope import BrandScope
from tessera.slots import model
from tessera.slots.models import CatalogueItem, ItemNeighbour
from tessera.tenancy.models import Brand

_orders = itertools.count(1)
NOW = datetime.now(UTC)


async def buy(brand: Brand, member_pk: int, *skus: str, days_ago: int = 1) -> None:
    price = MoneyAmount(Decimal("10.00"), brand.currency)
    await record_order(
        BrandScope(brand),
        OrderInput(
            external_id=f"o-{next(_orders)}",
            member=MemberRef(member_id=member_pk),
            occurred_at=NOW - timedelta(days=days_ago),
            amount_paid=MoneyAmount(Decimal("10.00") * len(skus), brand.currency),
            lines=[
                LineInput(sku=sku, quantity=1, unit_price=price, name=sku.title(), category=sku[0])
                for sku in skus
            ],
        ),
    )


async def _items(gql: Any, token: str, key: str, member: str | None) -> list[tuple[str, str]]:
    data = await gql(RESOLVE, {"k": key, "m": member}, token=token)
    return [(e["item"]["sku"], e["reason"]) for e in data["slot"]["entries"]]


@pytest.fixture
async def shop(brand_a, enable_feature, person) -> dict[str, Any]:
    """Shoppers who buy "a-boots" with "a-socks", and "b-hat" with "b-scarf";
    "c-bag" is bought by everyone."""
    await enable_feature(brand_a, "slots.co_purchase", slot="together", config={"limit": 3})
    await enable_feature(brand_a, "slots.popular", slot="popular", config={"limit": 3})
    people = [await person(brand_a) for _ in range(6)]
    for p in people[:3]:
        await buy(brand_a, p.pk, "a-boots", "a-socks", "c-bag", days_ago=3)
    for p in people[3:]:
        await buy(brand_a, p.pk, "b-hat", "b-scarf", "c-bag", days_ago=2)
    return {"people": people}


async def test_bought_together_with_reasons_filters_what_was_bought(
    brand_a, shop, api_key, gql, person
):
    report = await model.build(BrandScope(brand_a))
    assert report.catalogue_added == 5 and report.neighbours > 0
    token = await api_key(brand_a, "read")
    newcomer = await person(brand_a)
    await buy(brand_a, newcomer.pk, "a-boots")
    items = await _items(gql, token, "together", newcomer.id)
    assert items[0] == ("a-socks", "bought together with a-boots")
    assert "a-boots" not in [sku for sku, _ in items]

    # An item switched off in the catalogue is never recommended.
    await BrandScope(brand_a).query(CatalogueItem).filter(sku="a-socks").update(active=False)
    assert "a-socks" not in [sku for sku, _ in await _items(gql, token, "together", newcomer.id)]


async def test_cold_start_member_gets_the_popular_list(brand_a, shop, api_key, gql, person):
    await model.build(BrandScope(brand_a))
    token = await api_key(brand_a, "read")
    stranger = await person(brand_a)
    items = await _items(gql, token, "together", stranger.id)
    assert items[0] == ("c-bag", "popular with everyone (no purchases yet)")
    popular = await _items(gql, token, "popular", stranger.id)
    assert [sku for sku, _ in popular][0] == "c-bag"


async def test_popular_in_the_categories_the_member_buys(brand_a, shop, api_key, gql, person):
    await model.build(BrandScope(brand_a))
    token = await api_key(brand_a, "read")
    member = await person(brand_a)
    await buy(brand_a, member.pk, "b-hat")
    items = await _items(gql, token, "popular", member.id)
    assert items[0] == ("b-scarf", "popular in b, which you buy")
    assert "b-hat" not in [sku for sku, _ in items]


async def test_rules_pin_and_pick_by_category_for_an_audience(
    brand_a, shop, enable_feature, api_key, gql, person
):
    await model.build(BrandScope(brand_a))
    await (
        BrandScope(brand_a)
        .query(CatalogueItem)
        .filter(sku="b-hat")
        .update(tags=["winter"], tag_text=",winter,")
    )
    await enable_feature(
        brand_a,
        "slots.rules",
        slot="picks",
        config={"limit": 3, "rules": [{"pinned": ["a-socks"], "tags": ["winter"]}]},
    )
    token = await api_key(brand_a, "read")
    member = await person(brand_a)
    items = await _items(gql, token, "picks", member.id)
    assert items == [
        ("a-socks", "pinned by rule 1"),
        ("b-hat", "tagged winter (rule 1)"),
        ("c-bag", "popular with everyone"),
    ]


async def test_resolution_reads_a_constant_number_of_rows_sets(
    brand_a, shop, api_key, gql, person, assert_round_trips
):
    await model.build(BrandScope(brand_a))
    token = await api_key(brand_a, "read")
    member = await person(brand_a)
    await buy(brand_a, member.pk, "a-boots", "b-hat")
    # Warms the key cache and this process's reading of the slot's kind.
    await gql(RESOLVE, {"k": "together", "m": member.id}, token=token)
    # The key's revocation check, then one statement: the slot's stored
    # config, the member's existence, purchases, neighbours, popular lists
    # and the catalogue entries of every candidate.
    async with assert_round_trips(2) as log:
        await gql(RESOLVE, {"k": "together", "m": member.id}, token=token)
    for n in range(5):
        await buy(brand_a, member.pk, f"a-more-{n}", f"b-more-{n}")
    await model.build(BrandScope(brand_a))
    async with record_same(log, assert_round_trips):
        await gql(RESOLVE, {"k": "together", "m": member.id}, token=token)


async def test_a_changed_slot_config_shows_on_the_next_view(
    brand_a, shop, api_key, gql, person, enable_feature, assert_round_trips
):
    """The process keeps each slot's validated config; the page view's one
    statement returns the stored config, so a change (made here or by
    another process: nothing in this process is told) is used at once."""
    await model.build(BrandScope(brand_a))
    token = await api_key(brand_a, "read")
    member = await person(brand_a)
    assert len(await _items(gql, token, "popular", member.id)) == 3
    await enable_feature(brand_a, "slots.popular", slot="popular", config={"limit": 1})
    # The statement sees the new config and runs again with its needs.
    async with assert_round_trips(3):
        assert len(await _items(gql, token, "popular", member.id)) == 1
    await enable_feature(brand_a, "slots.popular", slot="popular", enabled=False)
    data = await gql(RESOLVE, {"k": "popular", "m": member.id}, token=token, errors_ok=True)
    assert data["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def record_same(log: Any, assert_round_trips: Any) -> Any:
    return assert_round_trips(len(log.round_trips))


async def test_the_build_reads_orders_in_chunks_with_the_same_result(brand_a, shop, monkeypatch):
    scope = BrandScope(brand_a)
    whole = await model.build(scope)
    rows = (
        await scope.query(ItemNeighbour)
        .order_by("sku", "rank")
        .values_list("sku", "neighbour", "score", "together")
    )
    monkeypatch.setattr(model, "READ_CHUNK", 1)  # an order per query
    chunked = await model.build(scope)
    assert (chunked.purchases, chunked.items, chunked.neighbours, chunked.popular) == (
        whole.purchases,
        whole.items,
        whole.neighbours,
        whole.popular,
    )
    again = (
        await scope.query(ItemNeighbour)
        .order_by("sku", "rank")
        .values_list("sku", "neighbour", "score", "together")
    )
    assert again == rows and rows
