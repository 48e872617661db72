"""Personal identity values at rest and on display.

Phones, emails and social ids are personal: they are stored sealed
(AES-GCM under the brand's current key version, see :mod:`tessera.crypto`)
beside a keyed blind index that exact lookups compare instead of the value.
Card numbers and external ids are the brand's own references, not the
person's: they stay readable (cards are issued by range and looked up by
range, and an external id is the brand's id of its own record) and get a
blind index too, so every lookup takes the same path.

Readers outside the members service reveal values through
:func:`reveal_identity` and the ``phone``/``email`` properties of
:class:`~tessera.members.models.Member`; what a caller is shown is masked
with :func:`mask` unless they hold the ``pii`` permission.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tessera import crypto
from tessera.config import Settings
from tessera.members.identities import IdentityKind
from tessera.runtime import current

SEALED_KINDS = frozenset(
    {
        IdentityKind.PHONE,
        IdentityKind.EMAIL,
        IdentityKind.WECHAT_OPENID,
        IdentityKind.WECHAT_UNIONID,
        IdentityKind.ALIPAY_USER_ID,
        IdentityKind.APP_USER_ID,
    }
)
# Profile columns of the member that mirror a sealed identity, and the column
# that holds each sealed.
SEALED_COLUMNS = {"phone": "phone_sealed", "email": "email_sealed"}
_COLUMN_KIND = {"phone": IdentityKind.PHONE.value, "email": IdentityKind.EMAIL.value}

# The audit action of a request that showed unmasked values (one per request).
READ_ACTION = "readPersonalData"

_secret_of: tuple[Settings, str] | None = None


def _secret() -> str:
    # Settings.secret() may read a file (development): once per process runtime.
    global _secret_of
    settings = current().settings
    if _secret_of is None or _secret_of[0] is not settings:
        _secret_of = (settings, settings.secret())
    return _secret_of[1]


def is_sealed(kind: str) -> bool:
    return kind in SEALED_KINDS


def digest(brand_id: int, kind: str, value: str) -> str:
    """The blind index of a normalised value: what lookups and uniqueness compare."""
    return crypto.blind_index(_secret(), brand_id, kind, value)


def digests(brand_id: int, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """:func:`digest` of many ``(kind, normalised value)`` pairs at once."""
    return crypto.blind_indexes(_secret(), brand_id, pairs)


def seal(brand_id: int, version: int, kind: str, value: str) -> str:
    return crypto.seal(_secret(), brand_id, version, kind, value)


def seals(
    brand_id: int, version: int, pairs: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """:func:`seal` of the sealed kinds among ``(kind, normalised value)``
    pairs, by pair (others are left out): one token per value, for its
    identity row and the member's profile column alike."""
    return crypto.seal_many(
        _secret(), brand_id, version, [pair for pair in pairs if pair[0] in SEALED_KINDS]
    )


def reseal(brand_id: int, version: int, kind: str, token: str) -> str:
    """``token`` under key ``version`` (as it is when already there)."""
    if crypto.sealed_version(token) == version:
        return token
    return seal(brand_id, version, kind, crypto.unseal(_secret(), brand_id, kind, token))


def identity_columns(
    brand_id: int,
    version: int,
    kind: str,
    value: str,
    known_digest: str | None = None,
    known_sealed: str | None = None,
) -> dict[str, Any]:
    """The stored columns of one identity (kind and normalised value);
    ``known_digest``, ``known_sealed``: its blind index and sealed token
    (under ``version``), when the caller computed them already."""
    blind = known_digest if known_digest is not None else digest(brand_id, kind, value)
    if is_sealed(kind):
        return {
            "kind": kind,
            "reference": None,
            "sealed": known_sealed or seal(brand_id, version, kind, value),
            "digest": blind,
        }
    return {"kind": kind, "reference": value, "sealed": None, "digest": blind}


def seal_profile(
    brand_id: int,
    version: int,
    values: dict[str, Any],
    known: dict[tuple[str, str], str] | None = None,
) -> dict[str, Any]:
    """Member column values with ``phone``/``email`` replaced by their sealed
    columns; ``known``: tokens (under ``version``) by (kind, value) that the
    caller sealed already, for the member's identity rows."""
    result = dict(values)
    for column, sealed_column in SEALED_COLUMNS.items():
        if column in result:
            clear = result.pop(column)
            kind = _COLUMN_KIND[column]
            result[sealed_column] = (
                ((known and known.get((kind, clear))) or seal(brand_id, version, kind, clear))
                if clear
                else None
            )
    return result


def reveal(brand_id: int, kind: str, token: str | None) -> str | None:
    """The clear value of a sealed token of ``kind`` (None stays None)."""
    if token is None:
        return None
    return crypto.unseal(_secret(), brand_id, kind, token)


def reveal_column(brand_id: int, column: str, token: str | None) -> str | None:
    """The clear value of the member's ``phone`` or ``email`` column."""
    return reveal(brand_id, _COLUMN_KIND[column], token)


def reveal_identity(identity: Any) -> str:
    """The clear value of a :class:`~tessera.members.models.MemberIdentity`
    row (or any object with ``brand_id``, ``kind``, ``reference``, ``sealed``)."""
    if identity.sealed is None:
        return str(identity.reference)
    return crypto.unseal(_secret(), identity.brand_id, identity.kind, identity.sealed)


def mask_phone(value: str) -> str:
    """``+8613800138000`` → ``+86138****8000``: the first three and last four
    digits of the national number stay, as Chinese receipts print them."""
    if len(value) <= 8:
        return "*" * len(value)
    return value[:-8] + "****" + value[-4:]


def mask_email(value: str) -> str:
    """``alice@example.com`` → ``a***@example.com``."""
    local, at, domain = value.partition("@")
    return f"{local[:1]}***{at}{domain}"


def mask_id(value: str) -> str:
    """``oX1aAbCdEf9f2Q`` → ``oX1a…9f2Q``: enough to tell two apart on a screen."""
    if len(value) <= 8:
        return value[:1] + "…"
    return f"{value[:4]}…{value[-4:]}"


def mask(kind: str, value: str | None) -> str | None:
    """What a caller without the ``pii`` permission sees of an identity value.
    Brand references (card number, external id) are shown as they are."""
    if value is None or not is_sealed(kind):
        return value
    if kind == IdentityKind.PHONE:
        return mask_phone(value)
    if kind == IdentityKind.EMAIL:
        return mask_email(value)
    return mask_id(value)
