"""On PostgreSQL a single-entry ledger write claims its idempotency key in the
statement that writes its entry (``ON CONFLICT DO NOTHING``, the account and
lots moved only with the entry) instead of failing on the unique key inside
a savepoint. These race two real transactions, each a caller's unit of work
with other work in it, to the points the savepoint used to cover: a
duplicate that commits while the other waits answers as a replay, applies
nothing twice and leaves its caller's transaction whole."""

from __future__ import annotations

import asyncio

import pytest
from tortoise import connections

from tessera import uow as units
from tessera.after_commit import enclosing_transaction
from tessera.assets import service
from tessera.assets.models import AssetAccount, LedgerEntry, PointsLot
from tessera.errors import DomainError
from tessera.scope import BrandScope
from tessera.testing import record_database
from tessera.uow import unit_of_work


async def _earn(scope, member_id, amount, key, uow):
    return await service.earn_points(
        scope, member_id, amount, idempotency_key=key, reason="r", source_type="t", uow=uow
    )


async def _redeem(scope, member_id, amount, key, uow):
    return await service.redeem_points(
        scope, member_id, amount, idempotency_key=key, reason="r", source_type="t", uow=uow
    )


async def _waiting_on_a_lock() -> None:
    """Until some backend waits on a lock (the second transaction, for the
    first's row lock or its uncommitted key)."""
    conn = connections.get("default")
    for _ in range(500):
        rows = await conn.execute_query_dict(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        )
        if rows[0]["n"]:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the second transaction never waited")


class _RolledBack(Exception):
    """The first transaction of a race abandons its work."""


async def _race(scope, first, second, *, first_rolls_back=False):
    """``first`` writes in a transaction held open until ``second``, in a
    transaction of its own, waits on it; then the first commits (or, with
    ``first_rolls_back``, rolls back and gives None)."""
    written, release = asyncio.Event(), asyncio.Event()

    async def hold_open():
        try:
            async with unit_of_work(scope) as uow:
                result = await first(uow)
                written.set()
                await release.wait()
                if first_rolls_back:
                    raise _RolledBack
        except _RolledBack:
            return None
        return result

    async def wait_then_write():
        await written.wait()
        async with unit_of_work(scope) as uow:
            return await second(uow)

    async with record_database() as log:
        a = asyncio.create_task(hold_open())
        b = asyncio.create_task(wait_then_write())
        await written.wait()
        await _waiting_on_a_lock()
        release.set()
        results = await asyncio.gather(a, b)
    assert not any("SAVEPOINT" in s for s in log.statements), log.report()
    return results


@pytest.mark.postgres_only
@pytest.mark.parametrize("write", [_earn, _redeem])
async def test_a_duplicate_committed_while_waiting_answers_as_a_replay_and_applies_once(
    brand_a, make_member, ledger_consistent, write
):
    scope = BrandScope(brand_a)
    member, other = await make_member(brand_a), await make_member(brand_a)
    await _earn(scope, member.id, 100, "seed", None)

    async def second(uow):
        # The caller's own work before the duplicate: it must commit too.
        await _earn(scope, other.id, 7, "other", uow)
        return await write(scope, member.id, 30, "k", uow)

    first, replayed = await _race(scope, lambda uow: write(scope, member.id, 30, "k", uow), second)

    assert not first.replayed and replayed.replayed
    assert replayed.entry.id == first.entry.id and replayed.balance == first.balance
    expected = 130 if write is _earn else 70
    assert first.balance == expected
    account = await scope.query(AssetAccount).get(member_id=member.id, kind="points")
    assert account.balance == expected
    assert await scope.query(LedgerEntry).filter(idempotency_key="k").count() == 1
    lots = await scope.query(PointsLot).filter(account_id=account.id).order_by("id")
    assert [lot.remaining for lot in lots] == ([100, 30] if write is _earn else [70])
    # The caller's transaction was not spoilt by the replay: its other write committed.
    assert (await scope.query(AssetAccount).get(member_id=other.id)).balance == 7
    await ledger_consistent(brand_a)


@pytest.mark.postgres_only
async def test_a_duplicate_held_by_another_account_is_waited_for_then_refused_cleanly(
    brand_a, make_member, ledger_consistent
):
    """The same key for another member: the second write's account is free, so
    it waits inside its entry's insert for the first's uncommitted key, and
    once that commits refuses as a conflict, having moved nothing."""
    scope = BrandScope(brand_a)
    member, other = await make_member(brand_a), await make_member(brand_a)
    await _earn(scope, other.id, 50, "seed", None)

    async def second(uow):
        try:
            await _earn(scope, other.id, 30, "k", uow)
        except DomainError as error:
            refused = error.code
        # Still usable: no statement of the refused write failed.
        await _earn(scope, other.id, 5, "after", uow)
        return refused

    first, refused = await _race(scope, lambda uow: _earn(scope, member.id, 30, "k", uow), second)

    assert refused == "IDEMPOTENCY_CONFLICT" and first.balance == 30
    assert (await scope.query(AssetAccount).get(member_id=other.id)).balance == 55
    assert await scope.query(LedgerEntry).filter(idempotency_key="k").count() == 1
    assert await scope.query(LedgerEntry).filter(member_id=other.id).count() == 2
    await ledger_consistent(brand_a)


@pytest.mark.postgres_only
async def test_a_duplicate_that_rolled_back_lets_the_waiting_write_apply(
    brand_a, make_member, ledger_consistent
):
    """The first holder of the key rolls back: the waiting write's insert
    goes in, and its account moves once."""
    scope = BrandScope(brand_a)
    member = await make_member(brand_a)

    def earn(uow):
        return _earn(scope, member.id, 30, "k", uow)

    abandoned, result = await _race(scope, earn, earn, first_rolls_back=True)

    assert abandoned is None
    assert not result.replayed and result.balance == 30
    assert (await scope.query(AssetAccount).get(member_id=member.id)).balance == 30
    assert await scope.query(LedgerEntry).filter(idempotency_key="k").count() == 1
    await ledger_consistent(brand_a)


async def test_a_failure_after_the_write_is_raised_not_read_back_as_a_replay(
    brand_a, make_member, monkeypatch
):
    """Joined to a mutation's transaction (no savepoint on PostgreSQL) the
    write's own rows stay when its unit of work fails after it (here a
    follow-up planner refusing): that failure is raised, not answered with
    the write's own entry as a replay, on both databases."""
    scope = BrandScope(brand_a)
    member = await make_member(brand_a)

    def refusing(events):
        raise DomainError("INVALID", "a planner refused")

    monkeypatch.setitem(units._planners, "test:refusing", refusing)
    monkeypatch.setattr(units, "FOLLOW_UPS", [*units.FOLLOW_UPS, "test:refusing"])
    with pytest.raises(DomainError, match="a planner refused"):
        async with enclosing_transaction():
            await _earn(scope, member.id, 30, "k", None)

    assert not await scope.query(LedgerEntry).filter(idempotency_key="k").exists()
