"""What one small ledger mutation costs the database, counted (issue 12: a
cheap request). Each round trip is a wait on the database and, on a busy
server, CPU: these counts guard the savings (one transaction with its audit
entry, no pool reset, the policy read with the account update and the lot
written with its entry on PostgreSQL, lots read in one query)."""

from __future__ import annotations

from tessera.assets import service
from tessera.schema.ids import encode_id
from tessera.scope import BrandScope
from tessera.testing import record_database

EARN = (
    "mutation($input: PointsInput!) "
    "{ earnPoints(input: $input) { balance replayed errors { code } } }"
)


def postgres() -> bool:
    from tortoise import connections

    return connections.get("default").capabilities.dialect == "postgres"


def earn_input(member_id: int, key: str) -> dict:
    return {
        "input": {"memberId": encode_id("Member", member_id), "points": 5, "idempotencyKey": key}
    }


async def test_earn_points_over_http_costs_its_statements_and_nothing_more(
    brand_a, make_member, api_key, gql
):
    token = await api_key(brand_a, "write")
    member = await make_member(brand_a)
    await gql(EARN, earn_input(member.id, "first"), token=token)  # the key's first use
    await gql(EARN, earn_input(member.id, "warm"), token=token)  # delivery's configs built

    async with record_database() as log:
        data = await gql(EARN, earn_input(member.id, "second"), token=token)

    assert data["earnPoints"] == {"balance": 15, "replayed": False, "errors": []}
    trips = [" ".join(trip) for trip in log.round_trips]
    # The revocation check is all of auth, and reads the brand's enabled
    # features for plugin delivery after the commit (no read of its own then).
    assert '"api_key"' in trips[0] and '"brand_feature"' in trips[0]
    assert sum('"brand_feature"' in t for t in trips) == 1
    # One transaction, no savepoint of the audit's own: BEGIN, the account,
    # the entry and lot, the audit entry, COMMIT.
    assert sum("BEGIN" in t for t in trips) == 1
    assert sum("audit_log_entry" in t for t in trips) == 1
    if postgres():
        # No savepoint for the ledger write either: it claims its key (a
        # replay racing this call inserts nothing and fails no statement).
        # The policy rides on the account's lock; the lot and the account's
        # change on the entry insert.
        assert not any("SAVEPOINT" in t for t in trips), log.report()
        assert sum(" FOR NO KEY UPDATE" in t for t in trips) == 1
        assert sum("ON CONFLICT" in t and "UPDATE asset_account" in t for t in trips) == 1
        assert len(trips) == 6, log.report()
        assert log.pool_resets == 0
    else:
        # The ledger write's savepoint (a replay racing this call rolls
        # back only that).
        assert sum(t.startswith("SAVEPOINT") for t in trips) == 1
        assert len(trips) == 10, log.report()


async def test_a_redemption_reads_its_lots_in_one_query(brand_a, make_member):
    scope = BrandScope(brand_a)
    member = await make_member(brand_a)
    for n in range(3):
        await service.earn_points(
            scope, member.id, 10, idempotency_key=f"e{n}", reason="x", source_type="t"
        )

    async with record_database() as log:
        await service.redeem_points(
            scope, member.id, 15, idempotency_key="r", reason="x", source_type="t"
        )

    statements = log.statements
    assert sum("FROM points_lot" in s for s in statements) == 1
    if postgres():
        # BEGIN, the account locked, the entry with its lots taken and the
        # account's change (one statement), COMMIT; then the brand's
        # enabled features, read to deliver points.changed to plugins.
        assert len(log.round_trips) == 5, log.report()
    else:
        assert sum(s.startswith("UPDATE points_lot") for s in statements) == 2
        # BEGIN, account update, entry, lots, two lot updates, COMMIT, features.
        assert len(log.round_trips) == 8, log.report()


async def test_an_earned_lot_carries_the_policy_read_with_the_update(brand_a, make_member):
    from tessera.assets.models import PointsLot
    from tessera.assets.policy import set_policy

    scope = BrandScope(brand_a)
    member = await make_member(brand_a)
    await set_policy(scope, expiry_mode="rolling_months", expiry_months=6)

    result = await service.earn_points(
        scope, member.id, 10, idempotency_key="e", reason="x", source_type="t"
    )

    lot = await scope.query(PointsLot).get(entry_id=result.entry.id)
    assert lot.expires_at is not None and lot.remaining == 10
