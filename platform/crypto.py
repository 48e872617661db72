"""Encryption at rest for secrets in component config (Fernet, key derived
from the process secret with HKDF so the secret key itself is never used raw)."""

from __future__ import annotations

import base64
import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
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
