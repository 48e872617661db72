"""Writes to both members while they are merged: every earn and redeem lands
once (on the survivor when it came after the merge), nothing is lost or
doubled, and the ledger verifies. On PostgreSQL the calls really run at once
(row locks decide the order); on SQLite one writer at a time."""

from __future__ import annotations

import asyncio
import random

from merge_helpers import ledger_problems, lots_of

from tessera.assets import service
from tessera.assets.models import AssetAccount, LedgerEntry
from tessera.errors import DomainError
from tessera.members import merge
from tessera.members.service import create_member
from tessera.scope import BrandScope

CALLS = 40


async def attempt(coro):
    try:
        return await coro
    except DomainError as error:
        return error


async def test_earns_and_redeems_on_both_members_during_the_merge(brand_a):
    scope = BrandScope(brand_a)
    s = (await create_member(scope, {"name": "s"}, identities=[("app_user_id", "s")])).id
    m = (await create_member(scope, {"name": "m"}, identities=[("app_user_id", "m")])).id
    for i in range(5):
        for member in (s, m):
            await service.earn_points(
                scope, member, 20, idempotency_key=f"seed-{member}-{i}", reason="t", source_type="t"
            )
    start = 200
    rng = random.Random(17)
    calls = []
    for i in range(CALLS):
        member = rng.choice((s, m))
        if i % 2:
            calls.append(
                (
                    "earn",
                    7,
                    service.earn_points(
                        scope, member, 7, idempotency_key=f"e{i}", reason="t", source_type="t"
                    ),
                )
            )
        else:
            calls.append(
                (
                    "redeem",
                    9,
                    service.redeem_points(
                        scope, member, 9, idempotency_key=f"r{i}", reason="t", source_type="t"
                    ),
                )
            )
    merging = merge.merge_members(scope, s, m, idempotency_key="race")
    coros = [attempt(c) for _, _, c in calls]
    coros.insert(CALLS // 2, attempt(merging))
    results = await asyncio.gather(*coros)
    merged = results.pop(CALLS // 2)
    assert isinstance(merged, merge.MergeResult), merged

    earned = redeemed = 0
    for (what, amount, _), result in zip(calls, results, strict=True):
        if isinstance(result, DomainError):
            # Only a redeem may be refused, and only for want of points.
            assert (what, result.code) == ("redeem", "INSUFFICIENT_POINTS"), result
            continue
        entries = await scope.query(LedgerEntry).filter(
            idempotency_key=result.entry.idempotency_key
        )
        assert len(entries) == 1  # applied exactly once
        assert entries[0].member_id == s  # wherever it went first, it is the survivor's now
        if what == "earn":
            earned += amount
        else:
            redeemed += amount
    assert earned == 7 * (CALLS // 2)  # no earn is lost
    balance = (await service.balances(scope, [s]))[s].points
    assert balance == start + earned - redeemed
    assert await scope.query(AssetAccount).filter(member_id=m).count() == 0
    assert await scope.query(LedgerEntry).filter(member_id=m).count() == 0
    assert await lots_of(scope, s) == balance
    assert await ledger_problems(scope) == []
    # Both members' redeems that were refused were refused for real: the
    # balance never went below zero on the way.
    entries = await scope.query(LedgerEntry).filter(member_id=s, kind="points")
    assert all(e.balance_after >= 0 for e in entries)
