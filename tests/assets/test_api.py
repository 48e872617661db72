"""The assets API: mutations with their payloads and UserErrors, the scopes
they need, the Member fields (assets, ledger, pointsExpiring) without N+1,
the points policy, and the brand wall."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tessera.assets import service
from tessera.assets.models import AssetAccount, LedgerEntry
from tessera.assets.policy import get_policy, set_policy
from tessera.errors import DomainError
from tessera.schema.ids import encode_id
from tessera.scope import BrandScope
from tessera.testing import record_database

PAYLOAD = "balance replayed entries { entryType amount balanceAfter reason actor } "
PAYLOAD += "member { id assets { points } } errors { field code message }"
EARN = f"mutation($input: PointsInput!) {{ earnPoints(input: $input) {{ {PAYLOAD} }} }}"
REDEEM = f"mutation($input: PointsInput!) {{ redeemPoints(input: $input) {{ {PAYLOAD} }} }}"
ADJUST = f"mutation($input: AdjustPointsInput!) {{ adjustPoints(input: $input) {{ {PAYLOAD} }} }}"
SV_PAYLOAD = "balance { amount currency } replayed entries { amount money { amount } } "
SV_PAYLOAD += "errors { field code }"
TOP_UP = (
    f"mutation($input: StoredValueInput!) {{ topUpStoredValue(input: $input) {{ {SV_PAYLOAD} }} }}"
)
SPEND = (
    f"mutation($input: StoredValueInput!) {{ spendStoredValue(input: $input) {{ {SV_PAYLOAD} }} }}"
)


def points(member_id: int | str, amount: int, key: str, **more) -> dict:
    member = member_id if isinstance(member_id, str) else encode_id("Member", member_id)
    return {"input": {"memberId": member, "points": amount, "idempotencyKey": key, **more}}


def money(member_id: int, amount: str, key: str, currency: str = "CNY") -> dict:
    return {
        "input": {
            "memberId": encode_id("Member", member_id),
            "amount": {"amount": amount, "currency": currency},
            "idempotencyKey": key,
        }
    }


async def test_earn_and_redeem_return_the_entries_balance_and_member(
    brand_a, make_member, api_key, gql
):
    token = await api_key(brand_a, "write")
    member = await make_member(brand_a)

    earned = (await gql(EARN, points(member.id, 120, "e1", reason="welcome"), token=token))[
        "earnPoints"
    ]
    redeemed = (await gql(REDEEM, points(member.id, 20, "r1"), token=token))["redeemPoints"]

    assert earned["errors"] == [] and earned["balance"] == 120
    assert earned["entries"] == [
        {
            "entryType": "EARN",
            "amount": 120,
            "balanceAfter": 120,
            "reason": "welcome",
            "actor": earned["entries"][0]["actor"],
        }
    ]
    assert earned["entries"][0]["actor"].startswith("api_key:")
    assert redeemed["member"]["assets"]["points"] == 100
    assert redeemed["member"]["id"] == encode_id("Member", member.id)


@pytest.mark.parametrize(
    ("amount", "code"),
    [(0, "INVALID_AMOUNT"), (-3, "INVALID_AMOUNT"), (999, "INSUFFICIENT_POINTS")],
)
async def test_bad_redeems_are_user_errors_naming_the_field_and_change_nothing(
    brand_a, make_member, api_key, gql, amount, code
):
    token = await api_key(brand_a, "write")
    member = await make_member(brand_a)
    await gql(EARN, points(member.id, 50, "e"), token=token)

    data = (await gql(REDEEM, points(member.id, amount, "r"), token=token))["redeemPoints"]

    assert [(e["code"], e["field"]) for e in data["errors"]] == [(code, ["input", "points"])]
    assert data["entries"] == [] and data["balance"] is None
    assert await BrandScope(brand_a).query(LedgerEntry).count() == 1


async def test_an_unknown_or_foreign_member_is_not_found(
    brand_a, brand_b, make_member, api_key, gql
):
    token = await api_key(brand_a, "write")
    theirs = await make_member(brand_b)
    for member_id in ("not-an-id", encode_id("Member", theirs.id), encode_id("Order", 1)):
        data = (await gql(EARN, points(member_id, 5, f"k-{member_id}"), token=token))["earnPoints"]
        assert [(e["code"], e["field"]) for e in data["errors"]] == [
            ("NOT_FOUND", ["input", "memberId"])
        ]
    assert await BrandScope(brand_b).query(AssetAccount).count() == 0


async def test_a_reused_key_with_another_payload_is_refused(brand_a, make_member, api_key, gql):
    token = await api_key(brand_a, "write")
    member = await make_member(brand_a)
    await gql(EARN, points(member.id, 5, "dup"), token=token)

    again = (await gql(EARN, points(member.id, 5, "dup"), token=token))["earnPoints"]
    other = (await gql(EARN, points(member.id, 6, "dup"), token=token))["earnPoints"]

    assert again["replayed"] is True and again["balance"] == 5
    assert [e["code"] for e in other["errors"]] == ["IDEMPOTENCY_CONFLICT"]
    assert (await BrandScope(brand_a).query(AssetAccount).get()).balance == 5


async def test_reading_needs_read_and_writing_needs_write(brand_a, make_member, api_key, gql):
    token = await api_key(brand_a, "read")
    member = await make_member(brand_a)
    body = await gql(EARN, points(member.id, 5, "k"), token=token, errors_ok=True)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_adjust_needs_the_admin_scope_and_a_reason(brand_a, make_member, api_key, gql):
    member = await make_member(brand_a)
    writer = await api_key(brand_a, "write")
    admin = await api_key(brand_a, "admin")
    adjust = {"input": {**points(member.id, 30, "a")["input"], "reason": "goodwill"}}

    body = await gql(ADJUST, adjust, token=writer, errors_ok=True)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    no_reason = {"input": {**adjust["input"], "reason": "", "idempotencyKey": "a0"}}
    refused = (await gql(ADJUST, no_reason, token=admin))["adjustPoints"]
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [
        ("REQUIRED", ["input", "reason"])
    ]

    done = (await gql(ADJUST, adjust, token=admin))["adjustPoints"]
    assert done["balance"] == 30 and done["entries"][0]["entryType"] == "ADJUST"


async def test_stored_value_is_money_in_the_brands_currency(brand_a, make_member, api_key, gql):
    token = await api_key(brand_a, "write")
    member = await make_member(brand_a)

    topped = (await gql(TOP_UP, money(member.id, "100.50", "t"), token=token))["topUpStoredValue"]
    spent = (await gql(SPEND, money(member.id, "0.50", "s"), token=token))["spendStoredValue"]
    too_much = (await gql(SPEND, money(member.id, "100.01", "s2"), token=token))["spendStoredValue"]
    usd = (await gql(TOP_UP, money(member.id, "1", "t2", "USD"), token=token))["topUpStoredValue"]
    cents = (await gql(TOP_UP, money(member.id, "1.001", "t3"), token=token))["topUpStoredValue"]

    assert topped["balance"] == {"amount": "100.50", "currency": "CNY"}
    assert topped["entries"] == [{"amount": 10050, "money": {"amount": "100.50"}}]
    assert spent["balance"]["amount"] == "100.00"
    assert too_much["errors"] == [{"field": ["input", "amount"], "code": "INSUFFICIENT_BALANCE"}]
    assert usd["errors"] == [{"field": ["input", "amount", "currency"], "code": "WRONG_CURRENCY"}]
    assert cents["errors"] == [{"field": ["input", "amount", "amount"], "code": "INVALID_AMOUNT"}]


MEMBER = """
query($id: ID!, $first: Int, $after: String) {
  member(id: $id) {
    assets { points pendingPoints storedValue { amount currency } growth }
    ledger(kind: POINTS, first: $first, after: $after) {
      totalCount
      edges { node { entryType amount balanceAfter } }
      pageInfo { hasNextPage endCursor }
    }
    pointsExpiring(withinDays: 10) { total lots { points expiresAt } }
  }
}
"""


async def test_member_shows_assets_a_paged_ledger_and_points_expiring(
    brand_a, make_member, api_key, gql
):
    token = await api_key(brand_a, "read")
    scope = BrandScope(brand_a)
    member = await make_member(brand_a)
    await set_policy(scope, expiry_mode="rolling_months", expiry_months=1)
    now = datetime.now(UTC)
    await service.earn_points(
        scope,
        member.id,
        40,
        idempotency_key="old",
        reason="x",
        source_type="t",
        now=now - timedelta(days=25),
    )
    for i in range(3):
        await service.earn_points(
            scope, member.id, 10, idempotency_key=f"e{i}", reason="x", source_type="t"
        )
    await service.top_up_stored_value(scope, member.id, 1234, idempotency_key="t")
    variables = {"id": encode_id("Member", member.id), "first": 2}

    page1 = (await gql(MEMBER, variables, token=token))["member"]
    page2 = (
        await gql(
            MEMBER, {**variables, "after": page1["ledger"]["pageInfo"]["endCursor"]}, token=token
        )
    )["member"]

    assert page1["assets"] == {
        "points": 70,
        "pendingPoints": 0,
        "storedValue": {"amount": "12.34", "currency": "CNY"},
        "growth": 0,
    }
    assert page1["ledger"]["totalCount"] == 4
    assert [e["node"]["balanceAfter"] for e in page1["ledger"]["edges"]] == [70, 60]
    assert page1["ledger"]["pageInfo"]["hasNextPage"] is True
    assert [e["node"]["balanceAfter"] for e in page2["ledger"]["edges"]] == [50, 40]
    assert page2["ledger"]["pageInfo"]["hasNextPage"] is False
    assert page1["pointsExpiring"]["total"] == 40
    assert [lot["points"] for lot in page1["pointsExpiring"]["lots"]] == [40]


MEMBERS = """
{ members(first: 50) { edges { node {
    assets { points storedValue { amount } }
    ledger(first: 3) { totalCount edges { node { amount } } }
    pointsExpiring(withinDays: 30) { total }
} } } }
"""


async def test_a_page_of_members_loads_assets_without_n_plus_1(brand_a, make_member, api_key, gql):
    token = await api_key(brand_a, "read")
    scope = BrandScope(brand_a)

    async def queries_for(n: int) -> int:
        for _ in range(n):
            member = await make_member(brand_a)
            await service.earn_points(
                scope, member.id, 5, idempotency_key=f"m{member.id}", reason="x", source_type="t"
            )
        async with record_database() as counter:
            data = await gql(MEMBERS, token=token)
        assert all(e["node"]["assets"]["points"] == 5 for e in data["members"]["edges"])
        return len(counter.round_trips)

    await gql("{ brand { id } }", token=token)  # the key's first use is recorded once
    assert await queries_for(2) == await queries_for(8)


async def test_within_days_out_of_range_is_an_error(brand_a, make_member, api_key, gql):
    token = await api_key(brand_a, "read")
    member = await make_member(brand_a)
    body = await gql(
        "query($id: ID!) { member(id: $id) { pointsExpiring(withinDays: 0) { total } } }",
        {"id": encode_id("Member", member.id)},
        token=token,
        errors_ok=True,
    )
    assert "withinDays" in body["errors"][0]["message"]


POLICY = """
mutation($input: SetPointsPolicyInput!) {
  setPointsPolicy(input: $input) {
    policy { expiryMode expiryMonths pendingDays negativeBalance expiringSoonDays }
    errors { field code }
  }
}
"""


async def test_the_points_policy_is_read_and_set_by_an_admin(brand_a, api_key, gql):
    admin = await api_key(brand_a, "admin")
    writer = await api_key(brand_a, "write")

    before = await gql("{ pointsPolicy { expiryMode pendingDays } }", token=writer)
    denied = await gql(POLICY, {"input": {"pendingDays": 3}}, token=writer, errors_ok=True)
    bad = await gql(POLICY, {"input": {"pendingDays": 999, "expiringSoonDays": 0}}, token=admin)
    done = await gql(
        POLICY,
        {
            "input": {
                "expiryMode": "ROLLING_MONTHS",
                "expiryMonths": 24,
                "pendingDays": 7,
                "negativeBalance": "CAP_AT_ZERO",
            }
        },
        token=admin,
    )

    assert before["pointsPolicy"] == {"expiryMode": "NEVER", "pendingDays": 0}
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert sorted(e["field"][-1] for e in bad["setPointsPolicy"]["errors"]) == [
        "expiringSoonDays",
        "pendingDays",
    ]
    assert done["setPointsPolicy"]["policy"] == {
        "expiryMode": "ROLLING_MONTHS",
        "expiryMonths": 24,
        "pendingDays": 7,
        "negativeBalance": "CAP_AT_ZERO",
        "expiringSoonDays": 7,
    }
    after = await gql("{ pointsPolicy { expiryMode pendingDays } }", token=writer)
    assert after["pointsPolicy"] == {"expiryMode": "ROLLING_MONTHS", "pendingDays": 7}


async def test_a_return_window_outlasting_expiry_is_refused(brand_a):
    scope = BrandScope(brand_a)
    await set_policy(scope, expiry_mode="rolling_months", expiry_months=12, pending_days=30)
    with pytest.raises(DomainError) as refused:
        await set_policy(scope, expiry_months=1, pending_days=30)
    assert refused.value.field == ["pendingDays"]
    kept = await get_policy(scope)
    assert (kept.expiry_months, kept.pending_days) == (12, 30)


async def test_a_callers_key_cannot_take_a_key_tessera_derives_for_itself(
    brand_a, make_member, api_key, gql
):
    # Tessera keys its own awards after their facts (e.g. "refund:7:points"); a
    # caller sending the same text must not pre-empt or replay that award.
    token = await api_key(brand_a, "write")
    member = await make_member(brand_a)
    scope = BrandScope(brand_a)
    sent = (await gql(EARN, points(member.id, 5, "refund:7:points"), token=token))["earnPoints"]
    assert sent["errors"] == []
    internal = await service.earn_points(
        scope, member.id, 9, idempotency_key="refund:7:points", reason="r", source_type="refund"
    )
    assert internal.replayed is False and internal.balance == 14
    entries = await gql(
        "query($id: ID!) { member(id: $id) { ledger(kind: POINTS) { edges { node { idempotencyKey } } } } }",
        {"id": encode_id("Member", member.id)},
        token=token,
    )
    keys = sorted(e["node"]["idempotencyKey"] for e in entries["member"]["ledger"]["edges"])
    assert keys == ["refund:7:points", "refund:7:points"]  # the caller sees its own key back
