"""A brand's points policy: when points expire, how long purchase points stay
pending, what a reversal does to a balance that cannot cover it, and how far
ahead members hear that points are about to lapse.

Every instant computed here is the end of a day in the brand's timezone
(DESIGN.md, Data rules), expressed in UTC.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from tessera.assets.models import PointsPolicy
from tessera.errors import DomainError, DomainErrors
from tessera.scope import BrandScope


class ExpiryMode(StrEnum):
    NEVER = "never"
    ROLLING_MONTHS = "rolling_months"
    """Valid for ``expiry_months`` months: earned on 15 March with 12 months,
    usable through 15 March next year."""
    CALENDAR_YEARS = "calendar_years"
    """Valid to the end of the ``expiry_years``-th calendar year, counting the
    year of earning as the first (1: 31 December this year; 2: next year's)."""


class NegativeBalance(StrEnum):
    ALLOW_NEGATIVE = "allow_negative"
    """A reversal takes its full amount; the balance may go below zero and the
    member's next earnings pay the debt first."""
    CAP_AT_ZERO = "cap_at_zero"
    """A reversal takes at most what the member has; the rest is written off."""


LIMITS = {
    "expiry_months": (1, 120),
    "expiry_years": (1, 10),
    "pending_days": (0, 365),
    "expiring_soon_days": (1, 90),
}


@dataclass(frozen=True)
class PolicyValues:
    expiry_mode: ExpiryMode = ExpiryMode.NEVER
    expiry_months: int = 12
    expiry_years: int = 1
    pending_days: int = 0
    negative_balance: NegativeBalance = NegativeBalance.ALLOW_NEGATIVE
    expiring_soon_days: int = 7

    @classmethod
    def of(cls, row: PointsPolicy | Mapping[str, Any] | None) -> PolicyValues:
        """From the brand's row (a model, or its columns as a mapping)."""
        if row is None:
            return cls()
        value = row.__getitem__ if isinstance(row, Mapping) else row.__getattribute__
        return cls(
            expiry_mode=ExpiryMode(value("expiry_mode")),
            expiry_months=value("expiry_months"),
            expiry_years=value("expiry_years"),
            pending_days=value("pending_days"),
            negative_balance=NegativeBalance(value("negative_balance")),
            expiring_soon_days=value("expiring_soon_days"),
        )


# The columns PolicyValues.of reads, for SQL that selects them alongside other work.
POLICY_COLUMNS = tuple(f.name for f in fields(PolicyValues))


async def get_policy(scope: BrandScope, using_db: Any = None) -> PolicyValues:
    row = await scope.query(PointsPolicy).using_db(using_db).get_or_none()
    return PolicyValues.of(row)


async def set_policy(scope: BrandScope, **changes: Any) -> PolicyValues:
    """Change some of the brand's policy values (``None`` keeps one); applies to
    points earned from now on, never to existing lots."""
    current = await get_policy(scope)
    problems: list[DomainError] = []
    clean: dict[str, Any] = {}
    for name, value in changes.items():
        if value is None:
            continue
        if name == "expiry_mode":
            clean[name] = _enum(ExpiryMode, value, name, problems)
        elif name == "negative_balance":
            clean[name] = _enum(NegativeBalance, value, name, problems)
        elif name in LIMITS:
            low, high = LIMITS[name]
            if not isinstance(value, int) or not low <= value <= high:
                problems.append(
                    DomainError("OUT_OF_RANGE", f"must be from {low} to {high}", [_camel(name)])
                )
            clean[name] = value
        else:
            raise TypeError(f"unknown policy value {name}")
    if problems:
        raise DomainErrors(problems)
    updated = replace(current, **clean)
    if (
        updated.expiry_mode is ExpiryMode.ROLLING_MONTHS
        and updated.pending_days >= updated.expiry_months * 28
    ):
        # Points still held for the return window would lapse the moment they
        # are released: the member could never use them.
        raise DomainError(
            "OUT_OF_RANGE",
            f"the return window ({updated.pending_days} days) must end before points "
            f"expire ({updated.expiry_months} months)",
            ["pendingDays"],
        )
    values = {k: str(v) if isinstance(v, StrEnum) else v for k, v in asdict(updated).items()}
    row = await scope.query(PointsPolicy).get_or_none()
    if row is None:
        await scope.create(PointsPolicy, **values)
    else:
        await scope.query(PointsPolicy).filter(id=row.id).update(**values)
    return updated


def _enum(kind: type[StrEnum], value: Any, name: str, problems: list[DomainError]) -> Any:
    try:
        return kind(str(value).lower())
    except ValueError:
        allowed = ", ".join(m.value.upper() for m in kind)  # type: ignore[attr-defined]
        problems.append(DomainError("INVALID", f"must be one of {allowed}", [_camel(name)]))
        return None


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def end_of_local_day(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant ``day`` ends in ``tz`` (the next local midnight)."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)


def local_date(instant: datetime, timezone: str) -> date:
    return instant.astimezone(ZoneInfo(timezone)).date()


def _add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def expires_at(policy: PolicyValues, timezone: str, earned_at: datetime) -> datetime | None:
    """When points earned at ``earned_at`` lapse under ``policy``; None: never."""
    if policy.expiry_mode == ExpiryMode.NEVER:
        return None
    tz = ZoneInfo(timezone)
    earned_on = earned_at.astimezone(tz).date()
    if policy.expiry_mode == ExpiryMode.ROLLING_MONTHS:
        last_day = _add_months(earned_on, policy.expiry_months)
    else:
        last_day = date(earned_on.year + policy.expiry_years - 1, 12, 31)
    return end_of_local_day(last_day, tz)


def pending_until(policy: PolicyValues, timezone: str, earned_at: datetime) -> datetime | None:
    """When purchase points earned at ``earned_at`` become available (the end of
    the return window's last local day); None when the brand holds none."""
    if policy.pending_days == 0:
        return None
    tz = ZoneInfo(timezone)
    return end_of_local_day(
        earned_at.astimezone(tz).date() + timedelta(days=policy.pending_days), tz
    )
