"""Connections are Relay-complete: `first`/`after` and `last`/`before`, with
`pageInfo { hasNextPage hasPreviousPage startCursor endCursor }`, on root lists,
on per-member lists read for many members at once, and on lists held whole."""

from __future__ import annotations

import base64
import json
from decimal import Decimal

from tessera.assets import service as assets
from tessera.coupons.service import issue_coupon
from tessera.coupons.templates import create_template
from tessera.members.service import create_member
from tessera.orders.money import MoneyAmount
from tessera.schema.ids import encode_id
from tessera.schema.pagination import decode_cursor, encode_cursor
from tessera.scope import BrandScope

PAGE = "pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"


def names(connection):
    return [e["node"]["name"] for e in connection["edges"]]


async def _members(brand, n):
    scope = BrandScope(brand)
    return [
        await create_member(scope, {"name": f"m{i}"}, identities=[("app_user_id", f"u{i}")])
        for i in range(n)
    ]


async def test_a_root_list_pages_forwards_and_backwards(gql, api_key, brand_a):
    await _members(brand_a, 5)
    token = await api_key(brand_a, "read")
    query = f"""query($first: Int, $after: String, $last: Int, $before: String) {{
      members(first: $first, after: $after, last: $last, before: $before,
              sort: JOINED_AT_ASC) {{ edges {{ cursor node {{ name }} }} {PAGE} }} }}"""
    first = (await gql(query, {"first": 2}, token=token))["members"]
    assert names(first) == ["m0", "m1"]
    assert first["pageInfo"]["hasNextPage"] is True
    assert first["pageInfo"]["hasPreviousPage"] is False
    assert first["pageInfo"]["startCursor"] == first["edges"][0]["cursor"]
    assert first["pageInfo"]["endCursor"] == first["edges"][-1]["cursor"]

    last = (await gql(query, {"last": 2}, token=token))["members"]
    assert names(last) == ["m3", "m4"]
    assert (last["pageInfo"]["hasNextPage"], last["pageInfo"]["hasPreviousPage"]) == (False, True)

    before = last["pageInfo"]["startCursor"]
    middle = (await gql(query, {"last": 2, "before": before}, token=token))["members"]
    assert names(middle) == ["m1", "m2"]
    assert (middle["pageInfo"]["hasNextPage"], middle["pageInfo"]["hasPreviousPage"]) == (
        True,
        True,
    )
    start = await gql(query, {"last": 5, "before": middle["pageInfo"]["startCursor"]}, token=token)
    assert names(start["members"]) == ["m0"]
    assert start["members"]["pageInfo"]["hasPreviousPage"] is False

    between = {"after": first["pageInfo"]["endCursor"], "before": before, "first": 10}
    assert names((await gql(query, between, token=token))["members"]) == ["m2"]


async def test_first_and_last_together_and_bad_cursors_are_refused(gql, api_key, brand_a):
    token = await api_key(brand_a, "read")
    both = await gql("{ members(first: 1, last: 1) { totalCount } }", token=token, errors_ok=True)
    assert "not both" in both["errors"][0]["message"]
    bad = await gql('{ members(before: "nope") { totalCount } }', token=token, errors_ok=True)
    assert bad["errors"][0]["extensions"]["code"] == "BAD_CURSOR"
    assert "`before`" in bad["errors"][0]["message"]


async def test_member_ledger_pages_backwards_from_the_oldest(gql, api_key, brand_a):
    (member,) = await _members(brand_a, 1)
    scope = BrandScope(brand_a)
    for i in range(4):
        await assets.earn_points(
            scope, member.id, 10 + i, idempotency_key=f"k{i}", reason="t", source_type="manual"
        )
    query = """query($id: ID!, $last: Int, $before: String, $first: Int) { member(id: $id) {
      ledger(last: $last, before: $before, first: $first) {
        edges { node { amount } } PAGE } } }""".replace("PAGE", PAGE)
    variables = {"id": encode_id("Member", member.id)}
    newest = await gql(query, {**variables, "first": 2}, token=await api_key(brand_a, "read"))
    ledger = newest["member"]["ledger"]
    assert [e["node"]["amount"] for e in ledger["edges"]] == [13, 12]
    oldest = await gql(query, {**variables, "last": 2}, token=await api_key(brand_a, "read"))
    page = oldest["member"]["ledger"]
    assert [e["node"]["amount"] for e in page["edges"]] == [11, 10]
    assert (page["pageInfo"]["hasNextPage"], page["pageInfo"]["hasPreviousPage"]) == (False, True)


async def test_member_coupons_are_a_connection(gql, api_key, brand_a):
    (member,) = await _members(brand_a, 1)
    scope = BrandScope(brand_a)
    template = await create_template(
        scope,
        {
            "kind": "amount_off",
            "title": "5 off",
            "amount_off": MoneyAmount(Decimal("5.00"), "CNY"),
            "valid_days": 7,
        },
    )
    codes = [
        (
            await issue_coupon(
                scope, template_id=template.id, member_id=member.id, idempotency_key=f"c{i}"
            )
        ).code
        for i in range(3)
    ]
    query = """query($id: ID!, $first: Int, $after: String, $last: Int) { member(id: $id) {
      coupons(first: $first, after: $after, last: $last) {
        totalCount edges { node { code } } PAGE } } }""".replace("PAGE", PAGE)
    token = await api_key(brand_a, "read")
    variables = {"id": encode_id("Member", member.id)}
    first = (await gql(query, {**variables, "first": 2}, token=token))["member"]["coupons"]
    assert first["totalCount"] == 3
    assert [e["node"]["code"] for e in first["edges"]] == codes[::-1][:2]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = await gql(query, {**variables, "after": first["pageInfo"]["endCursor"]}, token=token)
    assert [e["node"]["code"] for e in rest["member"]["coupons"]["edges"]] == [codes[0]]
    last = (await gql(query, {**variables, "last": 1}, token=token))["member"]["coupons"]
    assert [e["node"]["code"] for e in last["edges"]] == [codes[0]]
    assert last["pageInfo"]["hasPreviousPage"] is True


def test_a_list_held_whole_pages_in_either_order() -> None:
    from types import SimpleNamespace

    from tessera.schema.pagination import Window, page_of_list

    rows = [SimpleNamespace(id=i, at=i * 10) for i in range(1, 6)]  # oldest first

    def page(window: Window) -> tuple[list[int], bool, bool]:
        c = page_of_list(
            rows,
            window,
            cap=100,
            sort_key=lambda r: (r.at, r.id),
            to_node=lambda r: r.id,
            descending=False,
        )
        return [e.node for e in c.edges], c.page_info.has_previous_page, c.page_info.has_next_page

    first = page_of_list(
        rows,
        Window(first=2),
        cap=100,
        sort_key=lambda r: (r.at, r.id),
        to_node=lambda r: r.id,
        descending=False,
    )
    assert [e.node for e in first.edges] == [1, 2]
    assert page(Window(first=2, after=first.page_info.end_cursor)) == ([3, 4], True, True)
    assert page(Window(last=2)) == ([4, 5], True, False)
    assert page(Window(last=2, before=first.page_info.end_cursor)) == ([1], False, True)


async def test_a_cursor_of_another_order_or_list_is_a_bad_cursor(gql, api_key, brand_a):
    # On PostgreSQL a key of the wrong type reached the database and came back
    # as an internal error; it is the caller's mistake.
    await _members(brand_a, 3)
    token = await api_key(brand_a, "read")
    by_name = await gql(
        "{ members(first: 1, sort: NAME_ASC) { pageInfo { endCursor } } }", token=token
    )
    wrong_id = encode_cursor(["2026-01-01T00:00:00+00:00", "seven"])
    for given in (by_name["members"]["pageInfo"]["endCursor"], wrong_id):
        for sort in ("JOINED_AT_ASC", "JOINED_AT_DESC"):
            query = f'{{ members(first: 1, sort: {sort}, after: "{given}") {{ totalCount }} }}'
            body = await gql(query, token=token, errors_ok=True)
            assert body["errors"][0]["extensions"]["code"] == "BAD_CURSOR", body
            assert body["data"] is None


async def test_a_cursor_given_out_by_an_earlier_release_still_pages(gql, api_key, brand_a):
    # Cursors were json.dumps's text (`["…", 7]`, with a space) until orjson
    # wrote them; a client may hold one across an upgrade.
    await _members(brand_a, 4)
    token = await api_key(brand_a, "read")
    query = """query($after: String) { members(first: 2, after: $after, sort: NAME_ASC) {
      edges { node { name } } pageInfo { endCursor } } }"""
    first = (await gql(query, token=token))["members"]
    cursor = first["pageInfo"]["endCursor"]
    earlier = base64.urlsafe_b64encode(json.dumps(decode_cursor(cursor)).encode()).decode()
    assert earlier.rstrip("=") != cursor
    for given in (cursor, earlier.rstrip("=")):
        assert names((await gql(query, {"after": given}, token=token))["members"]) == ["m2", "m3"]
