"""Brand API keys: created once (the only time the secret is shown), stored
hashed, checked on every request, revocable."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise import connections
from tortoise.expressions import Q

from tessera.auth.models import ApiKey
from tessera.auth.scopes import Scope, expand
from tessera.errors import DomainError
from tessera.features.stamp import seen, stamp_sql
from tessera.scope import Actor, BrandScope
from tessera.tenancy.models import Brand

KEY_PREFIX = "tsk"
# Writing last_used_at on every request would turn every read into a write.
_LAST_USED_RESOLUTION = timedelta(minutes=5)
# How long a process trusts a key it has looked up (the key, its brand and
# scopes) before looking it up again. Revocation does not wait for it: every
# use of a cached key still reads the key's revoked_at by primary key, a
# read every process shares, so a key revoked anywhere is refused at once.
CACHE_SECONDS = 10.0
_CACHE_SIZE = 10_000


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    token: str  # shown once, never stored


@dataclass(frozen=True)
class KeyPrincipal:
    """An authenticated brand API key."""

    scope: BrandScope
    scopes: frozenset[Scope]
    key_id: int


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_api_key(
    brand: Brand, name: str, scopes: list[str], *, tenant_wide: bool = False
) -> IssuedKey:
    """A new key of ``brand``. The ``persons`` scope reads across the brand's
    tenant: only a caller with tenant-wide rights (``tenant_wide``: a tenant
    owner, the command line) may grant it."""
    if not scopes:
        raise DomainError("INVALID", "give at least one scope", field=["scopes"])
    unknown = [s for s in scopes if s not in {s.value for s in Scope}]
    if unknown:
        raise DomainError(
            "INVALID",
            f"unknown scope(s) {', '.join(unknown)}; use read, write, manage, admin or persons",
            field=["scopes"],
        )
    if Scope.PERSONS.value in scopes and not tenant_wide:
        raise DomainError(
            "FORBIDDEN",
            "only an owner of every brand of the tenant may issue a key with the persons scope",
            field=["scopes"],
        )
    prefix = secrets.token_hex(6)
    token = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    key = await ApiKey.create(
        brand=brand,
        name=name,
        prefix=prefix,
        secret_hash=_hash(token),
        scopes=sorted(set(scopes)),
    )
    return IssuedKey(key=key, token=token)


async def revoke_api_key(scope: BrandScope, key_id: int) -> ApiKey:
    key = await scope.get(ApiKey, key_id)
    if key is None:
        raise DomainError("NOT_FOUND", "no such API key", field=["id"])
    if key.revoked_at is None:
        key.revoked_at = datetime.now(UTC)
        await key.save(update_fields=["revoked_at"])
    _cache.forget(key.id)
    return key


@dataclass(frozen=True)
class _Cached:
    principal: KeyPrincipal
    until: float  # on the cache's clock, time.monotonic()


class _KeyCache:
    """Principals of recently checked tokens, by the token's hash, for
    ``CACHE_SECONDS`` (in-process; bounded, the oldest entry leaves first)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: dict[str, _Cached] = {}
        self._clock = clock

    def get(self, digest: str) -> KeyPrincipal | None:
        entry = self._entries.get(digest)
        if entry is None:
            return None
        if entry.until < self._clock():
            del self._entries[digest]
            return None
        return entry.principal

    def put(self, digest: str, principal: KeyPrincipal) -> None:
        if len(self._entries) >= _CACHE_SIZE:
            del self._entries[next(iter(self._entries))]
        self._entries[digest] = _Cached(principal, self._clock() + CACHE_SECONDS)

    def forget(self, key_id: int) -> None:
        for digest in [d for d, e in self._entries.items() if e.principal.key_id == key_id]:
            del self._entries[digest]


_cache = _KeyCache()


async def _live(key_id: int, brand_id: int) -> str | None:
    """None when the key is revoked, else its brand's enabled features as one
    text (:mod:`tessera.features.stamp`, read here to spare plugin delivery a
    round trip): by primary key, hand-built (this runs on every request; the
    ORM's query building cost more than the query)."""
    conn = connections.get("default")
    dialect = conn.capabilities.dialect
    brand, key = ("$1", "$2") if dialect == "postgres" else ("?", "?")
    _, rows = await conn.execute_query(
        f"SELECT {stamp_sql(dialect, brand)} AS features "
        f'FROM "api_key" WHERE "id" = {key} AND "revoked_at" IS NULL',
        [brand_id, key_id],
    )
    return str(rows[0]["features"]) if rows else None


async def authenticate(token: str) -> KeyPrincipal | None:
    """The principal for a bearer token, or None when it is not a live key."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    digest = _hash(token)
    cached = _cache.get(digest)
    if cached is not None:
        brand_id = cached.scope.brand_id
        features = await _live(cached.key_id, brand_id)
        if features is not None:
            seen(brand_id, features)
            return cached
        _cache.forget(cached.key_id)
        return None
    key = await ApiKey.get_or_none(prefix=parts[1], revoked_at=None).select_related("brand")
    if key is None or not hmac.compare_digest(key.secret_hash, digest):
        return None
    now = datetime.now(UTC)
    if key.last_used_at is None or now - key.last_used_at > _LAST_USED_RESOLUTION:
        await ApiKey.filter(
            Q(id=key.id) & (Q(last_used_at__isnull=True) | Q(last_used_at__lt=now))
        ).update(last_used_at=now)
    actor = Actor("api_key", str(key.id), key.name)
    principal = KeyPrincipal(
        scope=BrandScope(key.brand, actor), scopes=expand(key.scopes), key_id=key.id
    )
    _cache.put(digest, principal)
    return principal
