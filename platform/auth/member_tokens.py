"""Member tokens: short-lived signed tokens for a member's own app session.

A brand's server (with a ``write`` key) mints one for a member; the member's
app sends it as a bearer token and reaches only ``me`` and the member-self
operations. HS256 JWTs, signed with a key derived from the process secret
(so rotating the secret ends every session), carrying the brand and member.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from tessera import runtime
from tessera.auth.scopes import Scope
from tessera.errors import DomainError
from tessera.members.models import Member
from tessera.members.profile import MemberStatus
from tessera.scope import Actor, BrandScope

ISSUER = "tessera"
AUDIENCE = "tessera:member"
DEFAULT_TTL = 3600
MIN_TTL = 60
MAX_TTL = 86_400
_ALGORITHM = "HS256"
_LIVE = {MemberStatus.PROSPECT.value, MemberStatus.ACTIVE.value}


@dataclass(frozen=True)
class IssuedMemberToken:
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class MemberPrincipal:
    """A member acting for themselves. ``scopes`` is empty: no API scope."""

    scope: BrandScope
    member: Member
    scopes: frozenset[Scope] = frozenset()

    @property
    def member_id(self) -> int:
        return self.member.id


def _signing_key() -> bytes:
    secret = runtime.current().settings.secret().encode()
    return hmac.new(secret, b"tessera member tokens v1", hashlib.sha256).digest()


def issue_member_token(
    scope: BrandScope, member: Member, ttl_seconds: int = DEFAULT_TTL, now: datetime | None = None
) -> IssuedMemberToken:
    """A token for ``member`` (already fetched through ``scope``)."""
    if not MIN_TTL <= ttl_seconds <= MAX_TTL:
        raise DomainError(
            "INVALID", f"ttlSeconds is between {MIN_TTL} and {MAX_TTL}", ["ttlSeconds"]
        )
    if member.brand_id != scope.brand_id:
        raise DomainError("NOT_FOUND", "no such member", ["memberId"])
    if member.status not in _LIVE:
        raise DomainError(
            "MEMBER_INACTIVE", f"a {member.status} member cannot have a session", ["memberId"]
        )
    now = now or datetime.now(UTC)
    expires = now + timedelta(seconds=ttl_seconds)
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(member.id),
        "brand": scope.brand_id,
        "iat": now,
        "exp": expires,
    }
    return IssuedMemberToken(jwt.encode(claims, _signing_key(), algorithm=_ALGORITHM), expires)


def looks_like_member_token(token: str) -> bool:
    return token.count(".") == 2


async def authenticate_member_token(token: str) -> MemberPrincipal | None:
    """The member principal for a live token, or None (expired, forged,
    another audience, or a member who left or was frozen)."""
    try:
        claims = jwt.decode(
            token,
            _signing_key(),
            algorithms=[_ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "sub", "brand", "aud", "iss"]},
        )
        member_id, brand_id = int(claims["sub"]), int(claims["brand"])
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
    # The member with its brand in one round trip (every request with a
    # member token pays it): the brand comes from the signed claims, and the
    # member must belong to it.
    member = await Member.filter(id=member_id, brand_id=brand_id).select_related("brand").first()
    if member is None or member.status not in _LIVE:
        return None
    scope = BrandScope(member.brand, Actor("member", str(member_id)))
    return MemberPrincipal(scope=scope, member=member)
