"""The one key check and the one fingerprint every value-moving write uses."""

import hashlib
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from tessera.errors import DomainError
from tessera.idempotency import (
    MAX_CALLER_KEY,
    MAX_STORED_KEY,
    conflict,
    fingerprint,
    from_caller,
    stored_key,
    to_caller,
)


def test_a_documented_150_character_key_is_stored_under_the_namespace_and_shown_back() -> None:
    key = "k" * 150
    stored = from_caller(key)
    assert stored == "api:" + key
    assert len(stored) <= MAX_STORED_KEY
    assert stored_key(stored) == stored
    assert to_caller(stored) == key


@pytest.mark.parametrize(
    ("key", "code"),
    [("", "REQUIRED"), ("   ", "REQUIRED"), ("k" * (MAX_CALLER_KEY + 1), "TOO_LONG")],
)
def test_a_callers_key_is_refused_naming_the_field(key: str, code: str) -> None:
    with pytest.raises(DomainError) as refused:
        from_caller(key, "input.idempotencyKey")
    assert (refused.value.code, refused.value.field) == (code, ["input.idempotencyKey"])


@pytest.mark.parametrize(
    ("key", "code"), [(None, "REQUIRED"), (" ", "REQUIRED"), ("k" * 181, "TOO_LONG")]
)
def test_a_stored_key_is_refused_when_missing_blank_or_over_180(key: object, code: str) -> None:
    with pytest.raises(DomainError) as refused:
        stored_key(key)
    assert (refused.value.code, refused.value.field) == (code, ["idempotencyKey"])
    assert stored_key("k" * 180) == "k" * 180


def test_the_fingerprint_ignores_key_order_and_tells_values_apart() -> None:
    at = datetime(2026, 2, 28, 12, tzinfo=UTC)
    first = fingerprint({"member": 1, "amount": Decimal("1.50"), "at": at})
    assert first == fingerprint({"at": at, "amount": Decimal("1.50"), "member": 1})
    assert first != fingerprint({"member": 1, "amount": Decimal("1.5"), "at": at})
    assert first != fingerprint({"member": 2, "amount": Decimal("1.50"), "at": at})
    assert len(first) == 64


def test_the_fingerprint_is_the_stored_form() -> None:
    # Stored rows hold this hash: changing the canonical form would turn every
    # later replay of an earlier request into a conflict.
    canonical = b'["earn",1,{"a":"2026-02-28","b":null}]'
    assert fingerprint(["earn", 1, {"b": None, "a": date(2026, 2, 28)}]) == (
        hashlib.sha256(canonical).hexdigest()
    )


def test_a_conflict_names_the_field() -> None:
    error = conflict("input.idempotencyKey")
    assert (error.code, error.field) == ("IDEMPOTENCY_CONFLICT", ["input.idempotencyKey"])
