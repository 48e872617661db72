"""Coupon codes: random, unambiguous, typed by people.

A code is 16 symbols of Crockford's base32 (``0-9`` and ``A-Z`` without
``I L O U``) drawn with :mod:`secrets`: 80 bits of entropy, shown in groups of
four, e.g. ``7KQX-M3RD-9WAT-HC2F``. Reading one back forgives what people do:
lower case, missing or extra hyphens and spaces, ``O`` for zero and ``I``/``L``
for one. At a billion guesses a second, hitting any one of a billion issued
codes takes years on average; lookups also stay inside the caller's brand.
"""

from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 16
GROUP = 4
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return _grouped(raw)


def normalise(typed: str) -> str | None:
    """The stored form of a code as someone typed it, or None when it cannot be one."""
    raw = "".join(typed.split()).replace("-", "").upper().translate(_READ_AS)
    if len(raw) != LENGTH or any(ch not in ALPHABET for ch in raw):
        return None
    return _grouped(raw)


def _grouped(raw: str) -> str:
    return "-".join(raw[i : i + GROUP] for i in range(0, LENGTH, GROUP))
