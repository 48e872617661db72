"""Signing secrets and signatures.

``Tessera-Webhook-Signature`` carries ``v1=<hex HMAC-SHA256 of
"{timestamp}.{body}">`` for every valid secret, comma-separated: during a
rotation the current and the previous secret both sign, so a receiver that
still knows only one of them keeps verifying.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from tessera.crypto import decrypt_json, encrypt_json

PREFIX = "whsec_"


def new_secret() -> str:
    return PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Secrets:
    current: str
    previous: str | None = None
    previous_until: datetime | None = None

    def valid(self, now: datetime) -> list[str]:
        """The secrets that sign at ``now``: the current one, and the previous
        one until its overlap ends."""
        if self.previous and self.previous_until and self.previous_until > now:
            return [self.current, self.previous]
        return [self.current]

    def rotated(self, new: str, now: datetime, overlap: timedelta) -> Secrets:
        return Secrets(new, self.current, now + overlap)

    def seal(self, key: str) -> str:
        return encrypt_json(
            key,
            {
                "current": self.current,
                "previous": self.previous,
                "previous_until": self.previous_until.isoformat() if self.previous_until else None,
            },
        )

    @classmethod
    def open(cls, key: str, token: str) -> Secrets:
        data = decrypt_json(key, token)
        until = data.get("previous_until")
        return cls(
            data["current"], data.get("previous"), datetime.fromisoformat(until) if until else None
        )


def sign(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return "v1=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(valid: list[str], timestamp: int, body: bytes) -> str:
    return ", ".join(sign(secret, timestamp, body) for secret in valid)
