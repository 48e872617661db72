"""Reading persons through GraphQL: a key with the persons scope sees the
person's members in each brand of its tenant and figures that are the sums of
the per-brand ones; brand keys (even admin), member tokens and another
tenant's persons key see nothing of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tessera.assets.service import earn_points
from tessera.auth.api_keys import create_api_key
from tessera.auth.member_tokens import issue_member_token
from tessera.errors import DomainError
from tessera.orders.inputs import LineInput, MemberRef, OrderInput
from tessera.orders.money import MoneyAmount
from tessera.pipeline.orders import record_order
from tessera.schema.ids import encode_id
from tessera.scope import BrandScope

PHONE = "13800138000"

PERSON = """
fragment P on Person {
  id
  members {
    brandCode memberId name status joinedAt tierCode ordersCount pointsBalance
    totalSpent { amount currency } firstOrderAt lastOrderAt
  }
  figures { brandsCount ordersCount totalSpent { amount currency } firstOrderAt lastOrderAt }
}
query($kind: IdentityKind!, $value: String!, $id: ID!) {
  personByIdentity(kind: $kind, value: $value) { ...P }
  person(id: $id) { ...P }
  persons(first: 10) { totalCount edges { node { id } } }
}
"""

BRAND_VIEW = """
query($id: ID!) {
  member(id: $id) {
    stats { ordersCount totalSpent { amount currency } firstOrderAt lastOrderAt }
    assets { points }
  }
}
"""


def _order(external_id: str, member_id: int, paid: str, currency: str, at: datetime) -> OrderInput:
    amount = MoneyAmount(Decimal(paid), currency)
    return OrderInput(
        external_id=external_id,
        member=MemberRef(member_id=member_id),
        occurred_at=at,
        amount_paid=amount,
        lines=[LineInput(sku="SKU", quantity=1, unit_price=amount)],
    )


async def _persons_key(brand, name: str = "group persons") -> str:
    return (await create_api_key(brand, name, ["persons"], tenant_wide=True)).token


@pytest.fixture
async def shopper(group, join, drain_outbox):
    tea, shoes, other = group
    now = datetime.now(UTC)
    a = await join(tea, name="Li Lei", phone=PHONE)
    b = await join(shoes, name="Lei Li", phone="+86 138 0013 8000")
    c = await join(other, name="Li Lei", phone=PHONE)
    await record_order(
        BrandScope(tea), _order("t1", a.id, "100.00", "CNY", now - timedelta(days=9))
    )
    await record_order(BrandScope(tea), _order("t2", a.id, "50.50", "CNY", now - timedelta(days=2)))
    await record_order(
        BrandScope(shoes), _order("s1", b.id, "30.00", "USD", now - timedelta(days=5))
    )
    await record_order(BrandScope(other), _order("o1", c.id, "999.00", "CNY", now))
    await earn_points(
        BrandScope(tea), a.id, 120, idempotency_key="k1", reason="t", source_type="manual"
    )
    await earn_points(
        BrandScope(shoes), b.id, 40, idempotency_key="k2", reason="t", source_type="manual"
    )
    await drain_outbox()
    return a, b, c


async def test_a_persons_key_sees_every_brand_and_figures_that_sum_them(
    group, shopper, gql, api_key
):
    tea, shoes, _ = group
    a, b, _ = shopper
    token = await _persons_key(tea)
    found = await gql(
        PERSON, {"kind": "PHONE", "value": PHONE, "id": encode_id("Person", 0)}, token=token
    )
    person = found["personByIdentity"]
    assert found["person"] is None
    assert [m["brandCode"] for m in person["members"]] == ["shoes", "tea"]
    assert found["persons"]["totalCount"] == 1  # the rival tenant's person is not listed
    again = await gql(
        PERSON, {"kind": "WECHAT_UNIONID", "value": "none", "id": person["id"]}, token=token
    )
    assert again["person"] == person and again["personByIdentity"] is None

    # Each brand's own view, through its own key.
    views = {}
    for brand, member in ((tea, a), (shoes, b)):
        own = await gql(
            BRAND_VIEW, {"id": encode_id("Member", member.id)}, token=await api_key(brand, "read")
        )
        views[brand.code] = own["member"]
    for membership in person["members"]:
        view = views[membership["brandCode"]]
        assert membership["ordersCount"] == view["stats"]["ordersCount"]
        assert membership["totalSpent"] == view["stats"]["totalSpent"]
        assert membership["pointsBalance"] == view["assets"]["points"]
        assert membership["lastOrderAt"] == view["stats"]["lastOrderAt"]
    figures = person["figures"]
    assert figures["brandsCount"] == 2
    assert figures["ordersCount"] == sum(v["stats"]["ordersCount"] for v in views.values()) == 3
    assert figures["totalSpent"] == [
        {"amount": "150.50", "currency": "CNY"},
        {"amount": "30.00", "currency": "USD"},
    ]
    assert figures["firstOrderAt"] == views["tea"]["stats"]["firstOrderAt"]
    assert figures["lastOrderAt"] == views["tea"]["stats"]["lastOrderAt"]


async def test_brand_keys_and_member_tokens_are_refused(group, shopper, gql, api_key):
    tea, _, _ = group
    a, _, _ = shopper
    admin = await api_key(tea, "admin")
    member_token = issue_member_token(BrandScope(tea), a).token
    for token in (admin, member_token):
        body = await gql(
            PERSON, {"kind": "PHONE", "value": PHONE, "id": "x"}, token=token, errors_ok=True
        )
        assert body["data"] is None
        assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}


async def test_another_tenants_persons_key_sees_only_its_own(group, shopper, gql):
    tea, _, other = group
    _, _, c = shopper
    ours = await gql(
        PERSON, {"kind": "PHONE", "value": PHONE, "id": "x"}, token=await _persons_key(tea)
    )
    theirs = await gql(
        PERSON,
        {"kind": "PHONE", "value": PHONE, "id": ours["personByIdentity"]["id"]},
        token=await _persons_key(other, "rival persons"),
    )
    assert theirs["person"] is None
    assert [m["memberId"] for m in theirs["personByIdentity"]["members"]] == [
        encode_id("Member", c.id)
    ]
    assert theirs["personByIdentity"]["figures"]["totalSpent"] == [
        {"amount": "999.00", "currency": "CNY"}
    ]


async def test_only_tenant_wide_callers_issue_a_persons_key(group):
    tea, _, _ = group
    with pytest.raises(DomainError) as refused:
        await create_api_key(tea, "sneaky", ["admin", "persons"])
    assert refused.value.code == "FORBIDDEN" and refused.value.field == ["scopes"]


async def test_a_non_linking_kind_is_an_error_naming_the_field(group, shopper, gql):
    tea, _, _ = group
    body = await gql(
        PERSON,
        {"kind": "EMAIL", "value": "a@b.c", "id": "x"},
        token=await _persons_key(tea),
        errors_ok=True,
    )
    assert body["errors"][0]["extensions"]["code"] == "INVALID"


async def test_a_page_of_persons_takes_as_many_queries_for_six_as_for_two(group, join, gql):
    from tessera.testing import drain_outbox, record_database

    tea, shoes, _ = group
    token = await _persons_key(tea)
    page = (
        "{ persons(first: 20) { edges { node { id members { brandCode name pointsBalance } "
        "figures { ordersCount totalSpent { amount } } } } } }"
    )

    async def trips(count: int) -> int:
        async with record_database() as log:
            data = await gql(page, token=token)
        assert len(data["persons"]["edges"]) == count
        return len(log.round_trips)

    for n in range(2):
        await join(tea, phone=f"1390013900{n}")
        await join(shoes, phone=f"1390013900{n}")
    await drain_outbox()
    await gql("{ persons { totalCount } }", token=token)  # the key's first use is written once
    two = await trips(2)
    for n in range(2, 6):
        await join(tea, phone=f"1390013900{n}")
        await join(shoes, phone=f"1390013900{n}")
    await drain_outbox()
    assert await trips(6) == two
