"""Encryption at rest: secrets in component config (Fernet) and members'
identity values (AES-GCM, per-brand versioned keys), with keys derived from
the process secret with HKDF so the secret key itself is never used raw; and
the keyed digests that let encrypted values be looked up exactly."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


@lru_cache(maxsize=4)
def _fernet(secret: str) -> Fernet:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"tessera feature secrets"
    ).derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt_json(secret: str, value: dict[str, Any]) -> str:
    if not value:
        return ""
    return _fernet(secret).encrypt(json.dumps(value).encode()).decode()


def decrypt_json(secret: str, token: str) -> dict[str, Any]:
    if not token:
        return {}
    result: dict[str, Any] = json.loads(_fernet(secret).decrypt(token.encode()))
    return result


@lru_cache(maxsize=256)
def _digest_key(secret: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        secret.encode()
    )


@lru_cache(maxsize=256)
def _keyed_hmac(key: bytes) -> hmac.HMAC:
    """HMAC-SHA256 with ``key`` absorbed: copied per value, which halves the
    cost of ``hmac.new`` (it absorbs the key each time), and an import
    digests tens of thousands of identities a second."""
    return hmac.new(key, digestmod=hashlib.sha256)


def _keyed_digest(key: bytes, kind: str, normalised_value: str) -> str:
    digest = _keyed_hmac(key).copy()
    digest.update(f"{kind}\x00{normalised_value}".encode())
    return digest.hexdigest()


def blind_index(secret: str, brand_id: int, kind: str, normalised_value: str) -> str:
    """A keyed digest of one brand's identity value, for exact lookups of a
    value that is stored encrypted (or erased). Keyed per brand so that equal
    values of two brands do not match: brands are walled off."""
    key = _digest_key(secret, b"tessera blind index brand:%d" % brand_id)
    return _keyed_digest(key, kind, normalised_value)


def blind_indexes(
    secret: str, brand_id: int, pairs: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """:func:`blind_index` of many ``(kind, normalised value)`` pairs (an
    import digests several identities a row)."""
    key = _digest_key(secret, b"tessera blind index brand:%d" % brand_id)
    return {pair: _keyed_digest(key, *pair) for pair in pairs}


def tenant_digest(secret: str, tenant_id: int, kind: str, normalised_value: str) -> str:
    """A keyed digest of an identity value that is equal across the brands of
    one tenant (and of no other), for linking one person's members."""
    key = _digest_key(secret, b"tessera person digest tenant:%d" % tenant_id)
    return _keyed_digest(key, kind, normalised_value)


# Identity values (phones, emails, social ids) are sealed with AES-GCM under a
# per-brand key of a numbered version: a fresh random nonce per value, and the
# identity kind as associated data so that a value cannot be passed off as one
# of another kind. The key version leads the token, so keys rotate row by row.
@lru_cache(maxsize=1024)
def _identity_cipher(secret: str, brand_id: int, version: int) -> AESGCM:
    return AESGCM(
        _digest_key(secret, b"tessera identity key brand:%d version:%d" % (brand_id, version))
    )


def seal(secret: str, brand_id: int, version: int, kind: str, value: str) -> str:
    """``"<version>:<base64 of nonce and ciphertext>"``."""
    return _sealed(_identity_cipher(secret, brand_id, version), version, kind, value)


def _sealed(cipher: AESGCM, version: int, kind: str, value: str) -> str:
    nonce = os.urandom(12)
    sealed = cipher.encrypt(nonce, value.encode(), kind.encode())
    return f"{version}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def seal_many(
    secret: str, brand_id: int, version: int, pairs: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """:func:`seal` of many ``(kind, value)`` pairs (an import seals several
    values a row): the cipher found once."""
    cipher = _identity_cipher(secret, brand_id, version)
    return {pair: _sealed(cipher, version, *pair) for pair in pairs}


def unseal(secret: str, brand_id: int, kind: str, token: str) -> str:
    version, _, body = token.partition(":")
    raw = base64.urlsafe_b64decode(body)
    cipher = _identity_cipher(secret, brand_id, int(version))
    return cipher.decrypt(raw[:12], raw[12:], kind.encode()).decode()


def sealed_version(token: str) -> int:
    return int(token.partition(":")[0])
