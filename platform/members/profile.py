"""Checking a member's profile fields: each problem names its field, and
all problems of one input are reported together."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from enum import StrEnum
from typing import Any

from tessera.errors import DomainError, DomainErrors
from tessera.members.identities import IdentityKind, normalise


class Gender(StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


class MemberStatus(StrEnum):
    """``prospect``: registered, not (yet) a member under the brand's join rule;
    ``active``: a member; ``frozen``: suspended by the brand (no member token,
    no earning); ``cancelled``: left the programme, kept for history;
    ``erased``: their personal data was erased (docs/privacy.md), only the
    books (orders, ledgers, statistics) remain, under the member's id;
    ``merged``: a tombstone merged into another member of the brand, which
    its id and identities resolve to (:mod:`tessera.members.merge`)."""

    PROSPECT = "prospect"
    ACTIVE = "active"
    FROZEN = "frozen"
    CANCELLED = "cancelled"
    ERASED = "erased"
    MERGED = "merged"


# Field name -> (max length). Free text whose vocabulary each brand chooses.
TEXT_FIELDS = {
    "name": 200,
    "province": 64,
    "city": 64,
    "education": 64,
    "occupation": 100,
    "income_range": 32,
    "join_source": 100,
}
IDENTITY_FIELDS = {
    "phone": IdentityKind.PHONE,
    "email": IdentityKind.EMAIL,
    "external_id": IdentityKind.EXTERNAL_ID,
}
MAX_INTERESTS = 50
_CHANNEL = re.compile(r"^[a-z0-9_]{0,32}$")
_EARLIEST_BIRTHDAY = date(1900, 1, 1)


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _text(name: str) -> Callable[[Any, str, date], Any]:
    limit, field = TEXT_FIELDS[name], camel(name)

    def check(value: Any, region: str, today: date) -> str:
        text = (value or "").strip()
        if len(text) > limit:
            raise DomainError("INVALID", f"{field} has at most {limit} characters", [field])
        return text

    return check


def _gender(value: Any, region: str, today: date) -> str:
    try:
        return Gender(value or Gender.UNKNOWN).value
    except ValueError:
        raise DomainError("INVALID", f"unknown gender {value!r}", ["gender"]) from None


def _birthday(value: Any, region: str, today: date) -> date | None:
    if value is not None and not _EARLIEST_BIRTHDAY <= value <= today:
        raise DomainError("INVALID", "birthday must be between 1900-01-01 and today", ["birthday"])
    return value  # type: ignore[no-any-return]


def _interests(value: Any, region: str, today: date) -> list[str]:
    cleaned: list[str] = []
    for item in value or []:
        text = str(item).strip()
        if not text or len(text) > 64:
            raise DomainError("INVALID", "each interest is 1-64 characters", ["interests"])
        if text not in cleaned:
            cleaned.append(text)
    if len(cleaned) > MAX_INTERESTS:
        raise DomainError("INVALID", f"at most {MAX_INTERESTS} interests", ["interests"])
    return cleaned


def _join_channel(value: Any, region: str, today: date) -> str:
    text = (value or "").strip().lower()
    if not _CHANNEL.match(text):
        raise DomainError(
            "INVALID", "joinChannel is up to 32 lower-case letters, digits or '_'", ["joinChannel"]
        )
    return text


def _identity(name: str) -> Callable[[Any, str, date], Any]:
    kind = IDENTITY_FIELDS[name]
    field = camel(name)

    def check(value: Any, region: str, today: date) -> str | None:
        if value is None or not str(value).strip():
            return None
        return normalise(kind, str(value), region, [field])

    return check


CHECKS: dict[str, Callable[[Any, str, date], Any]] = {
    **{name: _text(name) for name in TEXT_FIELDS},
    **{name: _identity(name) for name in IDENTITY_FIELDS},
    "gender": _gender,
    "birthday": _birthday,
    "interests": _interests,
    "join_channel": _join_channel,
}


def clean_profile(values: Mapping[str, Any], region: str, today: date) -> dict[str, Any]:
    """Column values for the profile fields present in ``values`` (``None``
    clears a field). Unknown names are a programming error."""
    cleaned: dict[str, Any] = {}
    errors: list[DomainError] = []
    for name, value in values.items():
        try:
            cleaned[name] = CHECKS[name](value, region, today)
        except DomainError as error:
            errors.append(error)
    if errors:
        raise DomainErrors(errors)
    return cleaned
