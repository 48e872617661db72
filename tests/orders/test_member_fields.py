"""Member.stats, Member.orders and Member.events through GraphQL: values,
and a constant number of queries however many members the page holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from order_inputs import order_input

from tessera.behaviour.service import EventInput, record_events
from tessera.members.models import Member
from tessera.orders.inputs import MemberRef, RefundInput
from tessera.orders.refunds import record_refund
from tessera.pipeline.orders import record_order, record_orders
from tessera.schema.ids import encode_id
from tessera.scope import BrandScope
from tessera.testing import record_database

STATS = """
query($id: ID!) {
  member(id: $id) {
    stats {
      ordersCount units refundsCount firstOrderAt lastOrderAt
      totalSpent { amount currency } averageOrderValue { amount }
      spentLast365Days { amount } refundedTotal { amount }
    }
    orders(first: 2) {
      totalCount
      edges { node { externalId lines { sku } } }
      pageInfo { hasNextPage }
    }
  }
}
"""


async def test_member_stats_follow_orders_and_refunds(brand_a, api_key, gql, make_member):
    member = await make_member(brand_a)
    scope = BrandScope(brand_a)
    now = datetime.now(UTC)
    old = now - timedelta(days=400)
    recent = now - timedelta(days=10)
    await record_order(scope, order_input("old", member.id, paid="100.00", at=old))
    await record_order(scope, order_input("new", member.id, paid="50.01", at=recent))
    await record_order(scope, order_input("newer", member.id, paid="20.00", at=recent))
    await record_refund(scope, RefundInput("r", now, order_external_id="new"))
    token = await api_key(brand_a, "read")

    data = (await gql(STATS, {"id": encode_id("Member", member.id)}, token=token))["member"]

    stats = data["stats"]
    assert stats["ordersCount"] == 3 and stats["refundsCount"] == 1
    assert stats["totalSpent"] == {"amount": "120.00", "currency": "CNY"}
    assert stats["refundedTotal"] == {"amount": "50.01"}
    assert stats["averageOrderValue"] == {"amount": "40.00"}
    assert stats["spentLast365Days"] == {"amount": "20.00"}  # 50.01 + 20.00 - 50.01
    assert stats["units"] == 4  # 3 orders x 2 units, 2 refunded
    assert stats["firstOrderAt"].startswith(old.strftime("%Y-%m-%dT%H:%M:%S"))
    assert stats["lastOrderAt"].startswith(recent.strftime("%Y-%m-%dT%H:%M:%S"))
    orders = data["orders"]
    assert orders["totalCount"] == 3 and orders["pageInfo"]["hasNextPage"] is True
    assert [e["node"]["externalId"] for e in orders["edges"]] == ["newer", "new"]
    assert orders["edges"][0]["node"]["lines"] == [{"sku": "SKU-1"}]


async def test_a_member_without_orders_has_zero_stats(brand_a, api_key, gql, make_member):
    member = await make_member(brand_a)
    token = await api_key(brand_a, "read")

    data = (await gql(STATS, {"id": encode_id("Member", member.id)}, token=token))["member"]

    assert data["stats"]["ordersCount"] == 0
    assert data["stats"]["averageOrderValue"] == {"amount": "0.00"}
    assert data["stats"]["firstOrderAt"] is None
    assert data["orders"] == {"totalCount": 0, "edges": [], "pageInfo": {"hasNextPage": False}}


PAGE = """
{ members(first: 100) { edges { node {
    id
    %s
} } } }
"""
FACTS = """
    stats { ordersCount totalSpent { amount } spentLast365Days { amount } }
    orders(first: 3) { totalCount edges { node { externalId lines { sku } } } }
    events(first: 3) { totalCount edges { node { type } } }
"""


async def test_member_pages_with_facts_take_a_constant_number_of_queries(
    brand_a, api_key, gql, make_member
):
    scope = BrandScope(brand_a)
    token = await api_key(brand_a, "read")
    await gql("{ brand { code } }", token=token)  # the key's first use writes last_used_at
    now = datetime.now(UTC)

    async def queries(total: int, fields: str) -> int:
        while await scope.query(Member).count() < total:
            member = await make_member(brand_a)
            await record_orders(
                scope,
                [
                    order_input(f"{member.id}-{i}", member.id, at=now - timedelta(days=i))
                    for i in range(4)
                ],
            )
            await record_events(
                scope,
                [
                    EventInput(f"{member.id}-{i}", MemberRef(member_id=member.id), "view", now)
                    for i in range(4)
                ],
            )
        async with record_database() as counter:
            data = await gql(PAGE % fields, token=token)
        assert len(data["members"]["edges"]) == total
        return len(counter.round_trips)

    plain_small = await queries(3, "")
    small = await queries(3, FACTS)
    large = await queries(25, FACTS)
    with_stats = await queries(25, "stats { ordersCount }")

    assert small == large
    # Member.stats is one query for the page: stored figures with the 365-day spend
    assert with_stats == plain_small + 1
    # stats (1); orders: window + rows + count + lines; events: window + rows + count
    assert large == plain_small + 8


async def test_a_page_gives_the_same_tags_and_stats_as_each_member_alone(
    gql, api_key, brand_a, make_member
):
    """The members page loads tags and stats for the whole page before the
    engine walks it (also when they are selected through fragments); each
    member reads the same as when resolved on its own through the loaders."""
    from tessera.tags.service import TagSource, create_tag, tag_members

    scope = BrandScope(brand_a)
    await create_tag(scope, "gold", "Gold")
    await create_tag(scope, "vip", "VIP")
    first, second, third = [await make_member(brand_a) for _ in range(3)]
    await tag_members(scope, ["vip", "gold"], member_ids=[first.id])
    await tag_members(scope, ["gold"], member_ids=[second.id], source=TagSource.RULE)
    await tag_members(scope, ["gold"], member_ids=[second.id])  # a second source, one tag
    recent = datetime.now(UTC) - timedelta(days=3)
    await record_order(scope, order_input("o1", second.id, paid="12.50", at=recent))
    token = await api_key(brand_a, "read")
    fields = "id tags { code name } stats { ordersCount totalSpent { amount currency } }"

    page = await gql(
        "query { members(first: 10) { edges { node { ...Card } } } }"
        f" fragment Card on Member {{ ... on Member {{ {fields} }} }}",
        token=token,
    )
    nodes = {e["node"]["id"]: e["node"] for e in page["members"]["edges"]}
    alone = {}
    for member in (first, second, third):
        id_ = encode_id("Member", member.id)
        alone[id_] = (
            await gql(
                f"query($id: ID!) {{ member(id: $id) {{ {fields} }} }}", {"id": id_}, token=token
            )
        )["member"]

    assert nodes == alone
    assert [t["code"] for t in nodes[encode_id("Member", first.id)]["tags"]] == ["gold", "vip"]
    assert nodes[encode_id("Member", second.id)]["tags"] == [{"code": "gold", "name": "Gold"}]
    assert nodes[encode_id("Member", second.id)]["stats"] == {
        "ordersCount": 1,
        "totalSpent": {"amount": "12.50", "currency": "CNY"},
    }
