"""The nightly birthday bonus: once a year, on the member's birthday in the
brand's timezone; a 29 February birthday is celebrated on 1 March in common years."""

from __future__ import annotations

from datetime import UTC, date, datetime

from loyalty_programme import REGISTRATION, enable, member, standard_programme

from tessera.assets.service import balances
from tessera.rewards.jobs import birthday_bonus
from tessera.scope import BrandScope

BONUS = 88


async def _programme_with_birthdays(brand) -> None:
    await standard_programme(brand)
    await enable(brand, "points.activity", {"registration": REGISTRATION, "birthday": BONUS})


async def _points(brand, *members) -> list[int]:
    found = await balances(BrandScope(brand), [m.id for m in members])
    return [found[m.id].points - REGISTRATION for m in members]


async def test_the_bonus_comes_on_the_birthday_in_the_brands_timezone_once_a_year(brand_a):
    await _programme_with_birthdays(brand_a)
    today = await member(brand_a, "b-today", birthday=date(1990, 6, 15))
    tomorrow = await member(brand_a, "b-tomorrow", birthday=date(1990, 6, 16))
    # 16:30 UTC on 14 June is already 15 June in Shanghai.
    now = datetime(2026, 6, 14, 16, 30, tzinfo=UTC)
    assert await birthday_bonus({}, brand_a.id, now=now) == 1
    assert await _points(brand_a, today, tomorrow) == [BONUS, 0]
    await birthday_bonus({}, brand_a.id, now=now)  # a rerun of the night's job
    assert await _points(brand_a, today, tomorrow) == [BONUS, 0]


async def test_a_leap_day_birthday_is_celebrated_on_1_march_in_common_years(brand_a):
    await _programme_with_birthdays(brand_a)
    leap = await member(brand_a, "b-leap", birthday=date(2000, 2, 29))
    march = await member(brand_a, "b-march", birthday=date(1999, 3, 1))
    february = await member(brand_a, "b-feb", birthday=date(1999, 2, 28))

    on_28th = await birthday_bonus({}, brand_a.id, now=datetime(2027, 2, 28, 4, tzinfo=UTC))
    assert on_28th == 1
    assert await _points(brand_a, leap, march, february) == [0, 0, BONUS]
    on_1st = await birthday_bonus({}, brand_a.id, now=datetime(2027, 3, 1, 4, tzinfo=UTC))
    assert on_1st == 2
    assert await _points(brand_a, leap, march, february) == [BONUS, BONUS, BONUS]


async def test_in_a_leap_year_a_leap_day_birthday_is_on_29_february_only(brand_a):
    await _programme_with_birthdays(brand_a)
    leap = await member(brand_a, "b-leap", birthday=date(2000, 2, 29))
    march = await member(brand_a, "b-march", birthday=date(1999, 3, 1))
    assert await birthday_bonus({}, brand_a.id, now=datetime(2028, 2, 29, 4, tzinfo=UTC)) == 1
    assert await _points(brand_a, leap, march) == [BONUS, 0]
    assert await birthday_bonus({}, brand_a.id, now=datetime(2028, 3, 1, 4, tzinfo=UTC)) == 1
    assert await _points(brand_a, leap, march) == [BONUS, BONUS]


async def test_only_the_brand_asked_for_is_swept(brand_a, brand_b):
    await _programme_with_birthdays(brand_a)
    await _programme_with_birthdays(brand_b)
    a = await member(brand_a, "b-a", birthday=date(1990, 6, 15))
    b = await member(brand_b, "b-b", birthday=date(1990, 6, 15))
    assert await birthday_bonus({}, brand_a.id, now=datetime(2026, 6, 15, 12, tzinfo=UTC)) == 1
    assert await _points(brand_a, a) == [BONUS]
    assert await _points(brand_b, b) == [0]
