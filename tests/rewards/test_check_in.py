"""checkIn: once a day in the brand's timezone, streaks, a member token or a key."""

from __future__ import annotations

from datetime import timedelta

from loyalty_programme import REGISTRATION, T0, member, standard_programme

from tessera.assets.service import balances
from tessera.auth.member_tokens import issue_member_token
from tessera.rewards.activities import check_in
from tessera.rewards.models import CheckIn
from tessera.schema.ids import encode_id
from tessera.scope import BrandScope

CHECK_IN = """mutation($m: ID) { checkIn(input: {memberId: $m}) {
  checkIn { day streak points } replayed member { id } errors { field code } } }"""


async def test_a_member_checks_in_once_a_day_with_a_streak_bonus(brand_a):
    await standard_programme(brand_a)
    scope = BrandScope(brand_a)
    m = await member(brand_a, "c1")
    results = []
    for day in range(4):
        results.append(await check_in(scope, m.id, now=T0 + timedelta(days=day)))
    # Again on day 4, later that (Shanghai) day: the first check-in stands.
    again = await check_in(scope, m.id, now=T0 + timedelta(days=3, hours=10))
    assert again.replayed and again.check_in.id == results[-1].check_in.id
    assert [(r.check_in.streak, r.check_in.points) for r in results] == [
        (1, 5),
        (2, 5),
        (3, 25),
        (4, 5),
    ]
    # The check-ins' 40 on top of what joining earned.
    assert (await balances(scope, [m.id]))[m.id].points == REGISTRATION + 40
    # A day missed starts the streak again.
    fresh = await check_in(scope, m.id, now=T0 + timedelta(days=6))
    assert fresh.check_in.streak == 1


async def test_days_are_the_brands_local_days(brand_a):
    await standard_programme(brand_a)
    scope = BrandScope(brand_a)
    m = await member(brand_a, "c2")
    # 15:30 and 16:30 UTC are different days in Shanghai (UTC+8).
    first = await check_in(scope, m.id, now=T0.replace(hour=15, minute=30))
    second = await check_in(scope, m.id, now=T0.replace(hour=16, minute=30))
    assert not second.replayed
    assert (first.check_in.day, second.check_in.streak) == (T0.date(), 2)


async def test_check_in_through_the_api_with_a_token_or_a_key(gql, api_key, brand_a, brand_b):
    await standard_programme(brand_a)
    m = await member(brand_a, "c3")
    token = issue_member_token(BrandScope(brand_a), m).token
    data = await gql(CHECK_IN, {}, token=token)
    assert data["checkIn"]["errors"] == []
    assert data["checkIn"]["checkIn"]["streak"] == 1
    assert data["checkIn"]["member"]["id"] == encode_id("Member", m.id)
    writer = await api_key(brand_a, "write")
    again = await gql(CHECK_IN, {"m": encode_id("Member", m.id)}, token=writer)
    assert again["checkIn"]["replayed"] is True
    missing = await gql(CHECK_IN, {}, token=writer)
    assert [(e["field"], e["code"]) for e in missing["checkIn"]["errors"]] == [
        (["input", "memberId"], "REQUIRED")
    ]
    reader = await api_key(brand_a, "read")
    body = await gql(CHECK_IN, {"m": encode_id("Member", m.id)}, token=reader, errors_ok=True)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    other = await member(brand_a, "c4")
    foreign = await gql(CHECK_IN, {"m": encode_id("Member", other.id)}, token=token)
    assert foreign["checkIn"]["errors"][0]["code"] == "NOT_FOUND"
    assert await BrandScope(brand_a).query(CheckIn).count() == 1
