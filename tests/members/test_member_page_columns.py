"""A members page reads only the columns its selected fields need
(``schema.members.types.columns_for``): every field of ``Member``, selected
alone on a page, answers what the member read alone answers, so a field
whose column the page failed to read cannot pass unnoticed."""

from __future__ import annotations

from tessera.schema.members.types import MEMBER_COLUMNS, columns_for
from tessera.testing import record_database

DEFINE = """mutation($input: CreateAttributeDefinitionInput!) {
  createAttributeDefinition(input: $input) { errors { code } } }"""
CREATE = """mutation($input: CreateMemberInput!) {
  createMember(input: $input) { member { id } errors { field code } } }"""
TAG = """mutation { createTag(input: {code: "gold", name: "Gold"}) { errors { code } } }"""


FIELDS = """{ __type(name: "Member") { fields { name type {
  kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } }"""


def selection_of(field: dict) -> str:
    """The field as a page selects it: a leaf by name, anything else with
    its type name (enough for its resolver to run)."""
    kind = field["type"]
    while kind.get("ofType") is not None:
        kind = kind["ofType"]
    leaf = kind["kind"] in ("SCALAR", "ENUM")
    return field["name"] if leaf else f"{field['name']} {{ __typename }}"


async def test_every_member_field_on_a_page_answers_as_the_member_alone(gql, api_key, brand_a):
    admin = await api_key(brand_a, "admin", "pii")
    definition = {"key": "shoe_size", "type": "NUMBER"}
    assert (await gql(DEFINE, {"input": definition}, token=admin))["createAttributeDefinition"][
        "errors"
    ] == []
    assert (await gql(TAG, token=admin))["createTag"]["errors"] == []
    ids = []
    for i in range(3):
        values = {
            "name": f"Member {i}",
            "gender": "FEMALE",
            "birthday": f"199{i}-02-0{i + 1}",
            "phone": f"1380013800{i}",
            "email": f"m{i}@example.com",
            "externalId": f"CRM-{i}",
            "province": "Zhejiang",
            "city": "Hangzhou",
            "education": "master",
            "occupation": "engineer",
            "incomeRange": "20k-50k",
            "interests": ["tea", f"run-{i}"],
            "joinChannel": "app",
            "joinSource": f"store S00{i}",
            "attributes": {"shoe_size": 40 + i},
        }
        created = (await gql(CREATE, {"input": values}, token=admin))["createMember"]
        assert created["errors"] == []
        ids.append(created["member"]["id"])
    tagged = await gql(
        'mutation($ids: [ID!]) { tagMembers(input: {tags: ["gold"], memberIds: $ids}) '
        "{ errors { code } } }",
        {"ids": ids[:2]},
        token=admin,
    )
    assert tagged["tagMembers"]["errors"] == []

    fields = (await gql(FIELDS, token=admin))["__type"]["fields"]
    assert len(fields) > 30
    pages = {
        # The unfiltered first page (its statement written out) and a
        # filtered one (through the ORM), each by its own sort key.
        "first page": "members(first: 10)",
        "filtered": 'members(first: 10, sort: NAME_ASC, filter: {text: "Member"})',
    }
    for field in fields:
        selection = selection_of(field)
        alone = {}
        for member_id in ids:
            answer = await gql(
                f"query($id: ID!) {{ member(id: $id) {{ id {selection} }} }}",
                {"id": member_id},
                token=admin,
            )
            alone[member_id] = answer["member"]
        for page, call in pages.items():
            answer = await gql(
                f"{{ {call} {{ edges {{ node {{ id {selection} }} }} }} }}", token=admin
            )
            nodes = {edge["node"]["id"]: edge["node"] for edge in answer["members"]["edges"]}
            assert nodes == alone, (field["name"], page)


async def test_a_page_reads_the_columns_of_the_fields_it_selects(gql, api_key, brand_a):
    admin = await api_key(brand_a, "admin", "pii")
    created = await gql(CREATE, {"input": {"name": "Ann", "phone": "13800138000"}}, token=admin)
    assert created["createMember"]["errors"] == []
    await gql("{ brand { code } }", token=admin)  # the key's first use writes last_used_at

    async def page_statement(document: str) -> str:
        async with record_database() as log:
            await gql(document, token=admin)
        (statement,) = [s for s in log.statements if 'FROM "member"' in s]
        return statement

    narrow = await page_statement("{ members(first: 5) { edges { node { name phone } } } }")
    assert '"name"' in narrow and '"phone_sealed"' in narrow and '"joined_at"' in narrow
    assert '"attributes"' not in narrow and '"email_sealed"' not in narrow
    by_name = await page_statement(
        '{ members(first: 5, sort: NAME_ASC, filter: {text: "Ann"}) { edges { cursor } } }'
    )
    assert '"name"' in by_name and '"joined_at"' not in by_name and '"attributes"' not in by_name


def test_columns_are_the_fields_own_with_the_id_brand_and_sort_key():
    assert columns_for(["name", "phone", "tags", "__typename"], "joined_at") == (
        "id",
        "brand_id",
        "name",
        "phone_sealed",
        "joined_at",
    )
    assert columns_for([], "id") == ("id", "brand_id")
    every = columns_for(
        [
            "id",
            "externalId",
            "cardNumber",
            "status",
            "name",
            "gender",
            "birthday",
            "phone",
            "email",
            "province",
            "city",
            "education",
            "occupation",
            "incomeRange",
            "interests",
            "joinChannel",
            "joinSource",
            "joinedAt",
            "createdAt",
            "updatedAt",
            "attributes",
        ]
    )
    assert every == MEMBER_COLUMNS
