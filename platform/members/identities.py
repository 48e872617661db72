"""Identity kinds and how their values are normalised.

Every write and every lookup goes through :func:`normalise`, so
``138 0013 8000`` and ``+86 138-0013-8000`` find the same member.
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import lru_cache
from importlib import import_module

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from tessera.errors import DomainError


class IdentityKind(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    WECHAT_OPENID = "wechat_openid"
    WECHAT_UNIONID = "wechat_unionid"
    ALIPAY_USER_ID = "alipay_user_id"
    APP_USER_ID = "app_user_id"
    CARD_NUMBER = "card_number"
    EXTERNAL_ID = "external_id"


# Kinds whose primary value is also a column of the member (its profile).
PROFILE_COLUMN = {
    IdentityKind.PHONE: "phone",
    IdentityKind.EMAIL: "email",
    IdentityKind.EXTERNAL_ID: "external_id",
    IdentityKind.CARD_NUMBER: "card_number",
}

MAX_LENGTH = 128

# Checking an address's domain (IDNA rules, label by label) is four fifths of
# validate_email's time, and an import's addresses share a few domains
# (qq.com, 163.com, gmail.com): remember the answers for valid domains. The
# function is pure (the domain and two flags in, a dict that validate_email
# only reads out); an invalid domain raises, which lru_cache does not keep.
# email-validator is pinned in pyproject.toml. (The package re-exports the
# function under its module's name, hence import_module.)
_checker = import_module("email_validator.validate_email")
_checker.validate_email_domain_name = lru_cache(maxsize=4096)(  # type: ignore[attr-defined]
    _checker.validate_email_domain_name  # type: ignore[attr-defined]
)

_CARD_SEPARATORS = re.compile(r"[\s-]+")

# phonenumbers keeps a number's digits with a Python call per character
# (unicodedata.digit, for the world's numerals), twice a parse: a fifth of a
# phone's normalisation, which is an import's largest cost a row. Of ASCII
# characters exactly 0-9 have a digit value, so an ASCII number's digits are
# its 0-9 (what is kept with ``keep_non_digits``: the number as it is); other
# text takes the package's own loop. Same answers (tests/members/
# test_identity_shortcuts.py compares them); phonenumbers is pinned in
# pyproject.toml.
_phone_util = import_module("phonenumbers.phonenumberutil")
_digits_by_character = _phone_util.normalize_digits_only
_NOT_ASCII_DIGITS = re.compile(r"[^0-9]+")


def _normalize_digits_only(number: str, keep_non_digits: bool = False) -> str:
    if type(number) is str and number.isascii():
        return number if keep_non_digits else _NOT_ASCII_DIGITS.sub("", number)
    return str(_digits_by_character(number, keep_non_digits))


_phone_util.normalize_digits_only = _normalize_digits_only  # type: ignore[attr-defined]


def normalise_phone(value: str, region: str, field: list[str]) -> str:
    """E.164, reading numbers without ``+`` as numbers of the brand's region."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise DomainError("INVALID_PHONE", f"{value!r} is not a valid phone number", field=field)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(value: str, field: list[str]) -> str:
    try:
        email = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise DomainError(
            "INVALID_EMAIL", f"{value!r} is not a valid email: {exc}", field
        ) from None
    return email.normalized.lower()


def normalise(kind: IdentityKind, value: str, region: str, field: list[str]) -> str:
    """The stored form of an identity value, or a DomainError naming ``field``."""
    if kind is IdentityKind.PHONE:
        return normalise_phone(value, region, field)
    if kind is IdentityKind.EMAIL:
        return normalise_email(value, field)
    cleaned = value.strip()
    if kind is IdentityKind.CARD_NUMBER:
        # Printed cards are read back with spaces or dashes between digit groups.
        cleaned = _CARD_SEPARATORS.sub("", cleaned).upper()
    if not cleaned:
        raise DomainError("INVALID_IDENTITY", f"a {kind.name} identity cannot be empty", field)
    # split() is a whitespace test in C, not a Python call per character.
    if len(cleaned) > MAX_LENGTH or cleaned.split() != [cleaned]:
        raise DomainError(
            "INVALID_IDENTITY",
            f"a {kind.name} identity has at most {MAX_LENGTH} characters and no spaces",
            field,
        )
    return cleaned
