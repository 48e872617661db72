"""Control characters are refused in every string input, naming the field
(issue: a NUL reached PostgreSQL and came back as a masked internal error)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tessera.audit.models import AuditLogEntry
from tessera.members.models import Member

CREATE = "mutation($i: CreateMemberInput!) { createMember(input: $i) { member { id } errors { field code message } } }"


@pytest.mark.parametrize("bad", ["a\u0000b", "\u001b[31m", "x\u007f"])
async def test_a_control_character_in_a_mutation_input_is_a_user_error(gql, api_key, brand_a, bad):
    token = await api_key(brand_a, "write")
    data = await gql(CREATE, {"i": {"name": bad, "email": "c@example.com"}}, token=token)
    assert data["createMember"]["member"] is None
    assert data["createMember"]["errors"] == [
        {
            "field": ["input", "name"],
            "code": "INVALID_CHARACTERS",
            "message": "must not contain control characters (other than tab and line breaks)",
        }
    ]
    assert await Member.filter(brand_id=brand_a.id).count() == 0


async def test_tabs_and_line_breaks_are_allowed_in_text(gql, api_key, brand_a):
    token = await api_key(brand_a, "write")
    data = await gql(
        CREATE, {"i": {"name": "Ada\tLovelace\r\n", "email": "a@example.com"}}, token=token
    )
    assert data["createMember"]["errors"] == []


async def test_json_keys_and_values_are_checked_too(gql, api_key, brand_a):
    token = await api_key(brand_a, "write")
    data = await gql(
        CREATE,
        {
            "i": {
                "email": "j@example.com",
                "attributes": {"ok": ["fine", "bad\u0000"], "k\u0000": 1},
            }
        },
        token=token,
    )
    fields = sorted(e["field"] for e in data["createMember"]["errors"])
    assert fields == [["input", "attributes", "k\u0000"], ["input", "attributes", "ok", "1"]]
    # The refusal is audited, with what PostgreSQL cannot store replaced.
    entry = await AuditLogEntry.get(brand_id=brand_a.id)
    assert entry.outcome == "rejected"
    assert entry.details["input"]["input"]["attributes"] == {
        "ok": ["fine", "bad\ufffd"],
        "k\ufffd": 1,
    }


async def test_a_control_character_in_a_query_argument_names_the_argument(gql, api_key, brand_a):
    token = await api_key(brand_a, "read")
    body = await gql(
        "query($v: String!) { memberByIdentity(kind: EMAIL, value: $v) { id } }",
        {"v": "x\u0000@example.com"},
        token=token,
        errors_ok=True,
    )
    error = body["errors"][0]
    assert error["extensions"] == {"code": "INVALID_CHARACTERS", "field": ["value"]}
    assert error["message"].startswith("value: ")


async def test_a_query_error_about_an_input_names_its_path(gql, api_key, brand_a):
    token = await api_key(brand_a, "read")
    body = await gql(
        "query($o: RecordOrderInput!) { previewOrderRewards(order: $o) { totalPoints } }",
        {
            "o": {
                "externalId": "",
                "occurredAt": "2024-01-01T00:00:00+00:00",
                "amountPaid": {"amount": "1", "currency": "CNY"},
                "memberId": "x",
            }
        },
        token=token,
        errors_ok=True,
    )
    error = body["errors"][0]
    assert error["extensions"] == {"code": "REQUIRED", "field": ["order", "externalId"]}
    assert error["message"] == "order.externalId: must not be empty"


@pytest.mark.parametrize("mutation", ["tagMembers", "untagMembers"])
async def test_an_over_long_tag_code_is_a_user_error(gql, api_key, brand_a, new_member, mutation):
    from tessera.schema.ids import encode_id

    token = await api_key(brand_a, "write")
    member = await new_member(brand_a, email="t@example.com")
    data = await gql(
        f"mutation($i: {mutation[0].upper()}{mutation[1:]}Input!) {{ {mutation}(input: $i) {{ errors {{ field code }} }} }}",
        {"i": {"tags": ["x" * 65], "memberIds": [encode_id("Member", member.id)]}},
        token=token,
    )
    assert data[mutation]["errors"] == [{"field": ["input", "tags", "0"], "code": "UNKNOWN_TAG"}]


RECORD_ORDERS = (
    "mutation($i: RecordOrdersInput!) { recordOrders(input: $i) "
    "{ errors { field code } results { index } } }"
)


@pytest.mark.parametrize("bad", ["a\u0000b", "x\u007f", "\u001b[31m"])
async def test_a_control_character_deep_in_a_batch_names_its_path(gql, api_key, brand_a, bad):
    """A batch's inputs are walked quickly first (nearly all are clean), then,
    only when something is found, again for the paths."""
    token = await api_key(brand_a, "write")

    def order(n: int, name: str) -> dict:
        return {
            "externalId": f"o-{n}",
            "memberId": "TWVtYmVyOjE",
            "occurredAt": "2026-11-01T10:00:00+00:00",
            "amountPaid": {"amount": "1.00", "currency": "CNY"},
            "lines": [
                {"sku": "a", "quantity": 1, "unitPrice": {"amount": "1.00", "currency": "CNY"}},
                {
                    "sku": "b",
                    "name": name,
                    "quantity": 1,
                    "unitPrice": {"amount": "0.00", "currency": "CNY"},
                },
            ],
        }

    data = await gql(RECORD_ORDERS, {"i": {"orders": [order(0, "ok"), order(1, bad)]}}, token=token)
    assert data["recordOrders"]["errors"] == [
        {"field": ["input", "orders", "1", "lines", "1", "name"], "code": "INVALID_CHARACTERS"}
    ]


# Text with the characters either side of each refused range, and lone surrogates.
_TEXT = st.text(
    alphabet=st.sampled_from(
        ["a", "\t", "\n", "\r", "\x00", "\x08", "\x0b", "\x0c", "\x0e", "\x1f", " ", "\x7e"]
        + ["\x7f", "\x80", "\ud7ff", "\ud800", "\udbff", "\udc00", "\udfff", "\ue000", "中"]
    ),
    max_size=4,
)
_VALUES = st.recursive(
    st.none() | st.integers() | st.booleans() | _TEXT,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(_TEXT, inner, max_size=3)
    ),
    max_leaves=12,
)


@given(_VALUES)
def test_the_quick_walk_finds_something_exactly_when_the_paths_walk_does(value):
    """The quick walk searches all strings at once, joined by a line feed."""
    from tessera.schema.input_text import _any_forbidden, _problems

    assert _any_forbidden(value) == any(True for _ in _problems(value, ["input"]))
