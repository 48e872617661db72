"""Relative and calendar time windows of segment rules, resolved in the
brand's timezone at evaluation time.

A window is read the way an operator says it ("in the last 90 days", "last
month") on the brand's local calendar; the bounds are then turned into UTC
instants, which is how every time is stored. SQL only ever compares stored
times with these instants, so SQLite and PostgreSQL agree and neither needs
timezone arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from tessera.errors import DomainError

MAX_DAYS = 3660


class Period(StrEnum):
    """Calendar periods on the brand's local calendar; weeks start on Monday."""

    TODAY = "today"
    YESTERDAY = "yesterday"
    THIS_WEEK = "this_week"
    LAST_WEEK = "last_week"
    THIS_MONTH = "this_month"
    LAST_MONTH = "last_month"
    THIS_YEAR = "this_year"
    LAST_YEAR = "last_year"


@dataclass(frozen=True)
class Bounds:
    """A half-open interval ``[start, end)`` of UTC instants; ``None`` is open."""

    start: datetime | None
    end: datetime | None


def local_today(now: datetime, timezone: str) -> date:
    return now.astimezone(ZoneInfo(timezone)).date()


def local_midnight(day: date, timezone: str) -> datetime:
    """The UTC instant at which ``day`` begins in ``timezone``."""
    return datetime.combine(day, time(), tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def as_of_instant(day: date, timezone: str, now: datetime) -> datetime:
    """The last instant of ``day`` on the brand's calendar, in UTC: what
    "as of 30 June 1998" means for history analysed as of a date. A day
    after today (at ``now``) is refused: its facts are not known yet."""
    if day > local_today(now, timezone):
        raise DomainError("INVALID", "asOf cannot be in the future", ["asOf"])
    return local_midnight(day + timedelta(days=1), timezone) - timedelta(microseconds=1)


def period_days(period: Period, today: date) -> tuple[date, date]:
    """First day and the day after the last day of ``period``."""
    if period is Period.TODAY:
        return today, today + timedelta(days=1)
    if period is Period.YESTERDAY:
        return today - timedelta(days=1), today
    if period in (Period.THIS_WEEK, Period.LAST_WEEK):
        monday = today - timedelta(days=today.weekday())
        if period is Period.LAST_WEEK:
            monday -= timedelta(days=7)
        return monday, monday + timedelta(days=7)
    if period in (Period.THIS_MONTH, Period.LAST_MONTH):
        first = today.replace(day=1)
        if period is Period.LAST_MONTH:
            first = (first - timedelta(days=1)).replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        return first, following
    year = today.year - (1 if period is Period.LAST_YEAR else 0)
    return date(year, 1, 1), date(year + 1, 1, 1)


def last_days_start(days: int, today: date) -> date:
    """ "The last N days" are today and the N - 1 days before it."""
    return today - timedelta(days=days - 1)


def day_bounds(first: date | None, after_last: date | None, timezone: str) -> Bounds:
    return Bounds(
        local_midnight(first, timezone) if first else None,
        local_midnight(after_last, timezone) if after_last else None,
    )


def birthday_in_year(birthday: date, year: int) -> date:
    """The day a birthday is celebrated in ``year``: 29 February becomes
    1 March in years without it."""
    try:
        return birthday.replace(year=year)
    except ValueError:
        return date(year, 3, 1)


def years_before(day: date, years: int) -> date:
    """The same calendar day ``years`` earlier (28 February for 29 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return date(day.year - years, 2, 28)
