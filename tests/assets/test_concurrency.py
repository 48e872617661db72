"""Value under concurrency, through the service layer and through HTTP, on
whichever database the suite runs on (SQLite or PostgreSQL): concurrent
redeems never overdraw and never lose an update, racing earns and redeems
keep balance = sum of entries, one idempotency key sent concurrently applies
once and every caller gets the same result."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from tortoise import connections

from tessera.assets import expiry, service
from tessera.assets.models import AssetAccount, LedgerEntry
from tessera.assets.policy import set_policy
from tessera.errors import DomainError
from tessera.schema.ids import encode_id
from tessera.scope import BrandScope

CALLERS = 60


async def earn(scope, member_id, amount, key):
    return await service.earn_points(
        scope, member_id, amount, idempotency_key=key, reason="race", source_type="test"
    )


async def redeem(scope, member_id, amount, key):
    return await service.redeem_points(
        scope, member_id, amount, idempotency_key=key, reason="race", source_type="test"
    )


async def outcome(coro):
    try:
        return await coro
    except DomainError as error:
        return error


async def points_of(scope) -> int:
    return (await scope.query(AssetAccount).get(kind="points")).balance


async def test_concurrent_redeems_never_overdraw_or_lose_an_update(
    brand_a, make_member, ledger_consistent
):
    scope = BrandScope(brand_a)
    member = await make_member(brand_a)
    for i in range(5):  # several lots, so redeems also race over lots
        await earn(scope, member.id, 100, f"seed-{i}")

    results = await asyncio.gather(
        *(outcome(redeem(scope, member.id, 10, f"r-{i}")) for i in range(CALLERS))
    )

    ok = [r for r in results if isinstance(r, service.LedgerResult)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(ok) == 50
    assert {e.code for e in refused} == {"INSUFFICIENT_POINTS"}
    assert sorted(r.balance for r in ok) == list(range(0, 500, 10))
    assert await points_of(scope) == 0
    await ledger_consistent(brand_a)


async def test_racing_earns_and_redeems_keep_balance_equal_to_the_entries(
    brand_a, make_member, ledger_consistent
):
    scope = BrandScope(brand_a)
    member = await make_member(brand_a)
    await earn(scope, member.id, 100, "seed")
    calls = [earn(scope, member.id, 7, f"e-{i}") for i in range(30)]
    calls += [outcome(redeem(scope, member.id, 9, f"r-{i}")) for i in range(30)]
    random.Random(5).shuffle(calls)

    results = await asyncio.gather(*calls)

    redeemed = [r for r in results if isinstance(r, service.LedgerResult) and r.entry.amount < 0]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert {e.code for e in refused} <= {"INSUFFICIENT_POINTS"}
    assert len(redeemed) + len(refused) == 30
    amounts = await scope.query(LedgerEntry).values_list("amount", flat=True)
    # seed + earns - the redeems that went through: no update lost, none invented
    assert await points_of(scope) == 100 + 30 * 7 - 9 * len(redeemed) == sum(amounts)
    await ledger_consistent(brand_a)


async def test_one_key_sent_concurrently_applies_once_and_everyone_gets_that_result(
    brand_a, make_member, ledger_consistent
):
    scope = BrandScope(brand_a)
    member = await make_member(brand_a)
    await earn(scope, member.id, 100, "seed")

    results = await asyncio.gather(*(redeem(scope, member.id, 30, "once") for _ in range(20)))

    assert len({r.entry.id for r in results}) == 1
    assert {r.balance for r in results} == {70}
    assert Counter(r.replayed for r in results) == {True: 19, False: 1}
    assert await points_of(scope) == 70
    await ledger_consistent(brand_a)


async def test_one_key_with_different_payloads_concurrently_applies_one_and_refuses_the_rest(
    brand_a, make_member, ledger_consistent
):
    scope = BrandScope(brand_a)
    member = await make_member(brand_a)

    results = await asyncio.gather(
        *(outcome(earn(scope, member.id, amount, "same-key")) for amount in range(1, 11))
    )

    applied = [r for r in results if isinstance(r, service.LedgerResult)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(applied) == 1 and not applied[0].replayed
    assert {(e.code, tuple(e.field or [])) for e in refused} == {
        ("IDEMPOTENCY_CONFLICT", ("idempotencyKey",))
    }
    assert await points_of(scope) == applied[0].balance
    await ledger_consistent(brand_a)


REDEEM = """
mutation($input: PointsInput!) {
  redeemPoints(input: $input) { balance replayed entries { id } errors { code field } }
}
"""
EARN = REDEEM.replace("redeemPoints", "earnPoints")


def points_input(member_id: int, points: int, key: str) -> dict:
    return {
        "input": {
            "memberId": encode_id("Member", member_id),
            "points": points,
            "idempotencyKey": key,
        }
    }


async def test_concurrent_redeems_over_http_never_overdraw(
    brand_a, make_member, api_key, gql, ledger_consistent
):
    token = await api_key(brand_a, "write")
    member = await make_member(brand_a)
    await earn(BrandScope(brand_a), member.id, 500, "seed")

    responses = await asyncio.gather(
        *(gql(REDEEM, points_input(member.id, 10, f"h-{i}"), token=token) for i in range(CALLERS))
    )

    payloads = [r["redeemPoints"] for r in responses]
    assert sum(1 for p in payloads if not p["errors"]) == 50
    assert {p["errors"][0]["code"] for p in payloads if p["errors"]} == {"INSUFFICIENT_POINTS"}
    assert await points_of(BrandScope(brand_a)) == 0
    await ledger_consistent(brand_a)


async def test_racing_earns_and_redeems_over_http_keep_the_ledger_whole(
    brand_a, make_member, api_key, gql, ledger_consistent
):
    token = await api_key(brand_a, "write")
    member = await make_member(brand_a)
    calls = [gql(EARN, points_input(member.id, 5, f"e-{i}"), token=token) for i in range(30)]
    calls += [gql(REDEEM, points_input(member.id, 4, f"r-{i}"), token=token) for i in range(30)]
    random.Random(11).shuffle(calls)

    responses = await asyncio.gather(*calls)

    payloads = [next(iter(r.values())) for r in responses]
    earned = [p for r, p in zip(responses, payloads, strict=True) if "earnPoints" in r]
    redeemed = [p for r, p in zip(responses, payloads, strict=True) if "redeemPoints" in r]
    assert all(p["errors"] == [] for p in earned)
    assert {p["errors"][0]["code"] for p in redeemed if p["errors"]} <= {"INSUFFICIENT_POINTS"}
    went_through = sum(1 for p in redeemed if not p["errors"])
    scope = BrandScope(brand_a)
    amounts = await scope.query(LedgerEntry).values_list("amount", flat=True)
    assert await points_of(scope) == 30 * 5 - 4 * went_through == sum(amounts)
    await ledger_consistent(brand_a)


async def test_one_key_sent_concurrently_over_http_applies_once(
    brand_a, make_member, api_key, gql, ledger_consistent
):
    token = await api_key(brand_a, "write")
    member = await make_member(brand_a)
    await earn(BrandScope(brand_a), member.id, 100, "seed")

    responses = await asyncio.gather(
        *(gql(REDEEM, points_input(member.id, 25, "http-once"), token=token) for _ in range(12))
    )

    payloads = [r["redeemPoints"] for r in responses]
    assert {p["entries"][0]["id"] for p in payloads} and len(
        {p["entries"][0]["id"] for p in payloads}
    ) == 1
    assert {p["balance"] for p in payloads} == {75}
    assert sum(1 for p in payloads if not p["replayed"]) == 1
    assert await points_of(BrandScope(brand_a)) == 75

    conflict = await gql(REDEEM, points_input(member.id, 26, "http-once"), token=token)
    assert conflict["redeemPoints"]["errors"] == [
        {"code": "IDEMPOTENCY_CONFLICT", "field": ["input", "idempotencyKey"]}
    ]
    assert await points_of(BrandScope(brand_a)) == 75
    await ledger_consistent(brand_a)


@pytest.mark.sqlite_only
async def test_on_sqlite_a_writer_in_another_process_is_waited_for_not_failed(
    brand_a, make_member, tessera_db
):
    url = tessera_db.settings.database_url
    scope = BrandScope(brand_a)
    member = await make_member(brand_a)
    locked, ours_waits = threading.Event(), threading.Event()

    def other_process_writes() -> None:
        # A separate connection is what a worker or the CLI holds: SQLite's own
        # lock, not Tortoise's in-process one, keeps it apart from ours.
        conn = sqlite3.connect(url.removeprefix("sqlite://").split("?")[0], isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE member SET name = name WHERE id = ?", (member.id,))
        locked.set()
        # Commit only once our first write has started, i.e. meets the lock.
        assert ours_waits.wait(10)
        conn.execute("COMMIT")
        conn.close()

    def on_statement(sql: str) -> None:
        if sql.lstrip().upper().startswith(("INSERT", "UPDATE")):
            ours_waits.set()

    ours = connections.get("default")._connection
    writer = asyncio.create_task(asyncio.to_thread(other_process_writes))
    await asyncio.to_thread(locked.wait, 5)
    await ours.set_trace_callback(on_statement)
    try:
        result = await earn(scope, member.id, 10, "waits")
    finally:
        await ours.set_trace_callback(None)

    await writer
    assert ours_waits.is_set()
    assert result.balance == 10


async def test_concurrent_expiry_sweeps_expire_each_lot_once(
    brand_a, make_member, ledger_consistent
):
    scope = BrandScope(brand_a)
    await set_policy(scope, expiry_mode="rolling_months", expiry_months=1)
    earned_at = datetime(2026, 1, 10, 4, tzinfo=UTC)
    members = [await make_member(brand_a) for _ in range(3)]
    for m in members:
        for i in range(4):
            await service.earn_points(
                scope,
                m.id,
                25,
                idempotency_key=f"lot-{m.id}-{i}",
                reason="race",
                source_type="test",
                now=earned_at,
            )
    later = earned_at + timedelta(days=60)

    lapsed = await asyncio.gather(*(expiry.expire_due_lots(scope, now=later) for _ in range(4)))

    assert sum(lapsed) == 300
    assert await scope.query(LedgerEntry).filter(entry_type="expire").count() == 12
    assert {a.balance for a in await scope.query(AssetAccount).filter(kind="points")} == {0}
    await ledger_consistent(brand_a)
