"""Thin job wrappers: tier reviews and birthday bonuses for every brand."""

from __future__ import annotations

import logging
from contextlib import suppress
from datetime import UTC, date, datetime
from typing import Any

from tessera.assets.policy import local_date
from tessera.members.models import Member
from tessera.members.profile import MemberStatus
from tessera.rewards.activities import reward_activity
from tessera.rewards.pipeline import programme
from tessera.rewards.reviews import review_due
from tessera.scope import BrandScope
from tessera.segments.timewindows import birthday_in_year
from tessera.tenancy.models import Brand
from tessera.uow import unit_of_work

log = logging.getLogger("tessera.rewards")
OLDEST_BIRTH_YEAR = 1900


async def tier_review(ctx: dict[str, Any], brand_id: int | None = None) -> dict[str, int]:
    """Review the due tiers of one brand, or of every brand; returns counts."""
    totals = {"reviewed": 0, "renewed": 0, "upgraded": 0, "downgraded": 0}
    query = Brand.filter(id=brand_id) if brand_id is not None else Brand.all()
    for brand in await query.order_by("id"):
        report = await review_due(BrandScope(brand))
        for name in totals:
            totals[name] += getattr(report, name)
    return totals


async def birthday_bonus(
    ctx: dict[str, Any], brand_id: int | None = None, now: datetime | None = None
) -> int:
    """Award the birthday activity to members whose birthday is today in their
    brand's timezone (once a year each: the fact's reference is the year; a
    29 February birthday is celebrated on 1 March in common years)."""
    now = now or datetime.now(UTC)
    awarded = 0
    query = Brand.filter(id=brand_id) if brand_id is not None else Brand.all()
    for brand in await query.order_by("id"):
        scope = BrandScope(brand)
        if (await programme(scope)).empty:
            continue
        today = local_date(now, brand.timezone)
        awarded += await _birthdays(scope, today, now)
    return awarded


def _birth_dates_celebrated_on(today: date) -> list[date]:
    # Every date of birth celebrated today: an IN list the database matches on
    # its own (no month/day functions differ by engine). 29 February counts as
    # 1 March in common years, so those dates join 1 March's.
    days = []
    for year in range(OLDEST_BIRTH_YEAR, today.year + 1):
        for month, day in {(today.month, today.day), (2, 29)}:
            with suppress(ValueError):  # no such day in that year
                born = date(year, month, day)
                if birthday_in_year(born, today.year) == today:
                    days.append(born)
    return days


async def _birthdays(scope: BrandScope, today: date, now: datetime) -> int:
    awarded = 0
    members = await scope.query(Member).filter(
        status=MemberStatus.ACTIVE.value, birthday__in=_birth_dates_celebrated_on(today)
    )
    for member in members:
        async with unit_of_work(scope) as uow:
            applied = await reward_activity(
                scope, uow, member, "birthday", f"birthday:{member.id}:{today.year}", now=now
            )
        if applied is not None and applied.plan.points:
            awarded += 1
    return awarded
