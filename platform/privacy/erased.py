"""Erased identities: recognising, by its keyed digest alone, an identity an
erased member had (docs/privacy.md, "Erasure")."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from tessera import runtime
from tessera.crypto import blind_index
from tessera.privacy.models import ErasedIdentity
from tessera.scope import BrandScope


def digest(scope: BrandScope, kind: str, normalised_value: str) -> str:
    return blind_index(runtime.current().settings.secret(), scope.brand_id, kind, normalised_value)


async def remember(scope: BrandScope, pairs: Iterable[tuple[str, str]], using_db: object) -> None:
    """Keep the digests of ``(kind, normalised value)`` pairs (in the caller's
    transaction); one already kept (a value erased twice, over two members) stays."""
    now = datetime.now(UTC)
    rows = [
        scope.build(ErasedIdentity, kind=kind, digest=digest(scope, kind, value), erased_at=now)
        for kind, value in dict.fromkeys(pairs)
    ]
    await scope.insert_many(ErasedIdentity, rows, using_db, ignore_conflicts=True)


async def was_erased(scope: BrandScope, kind: str, normalised_value: str) -> bool:
    """Whether an erased member had this identity."""
    return await (
        scope.query(ErasedIdentity).filter(digest=digest(scope, kind, normalised_value)).exists()
    )


async def erased_among(scope: BrandScope, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which ``(kind, normalised value)`` pairs an erased member had: one query."""
    by_digest = {digest(scope, kind, value): (kind, value) for kind, value in set(pairs)}
    if not by_digest:
        return set()
    found = await (
        scope.query(ErasedIdentity)
        .filter(digest__in=list(by_digest))
        .values_list("digest", flat=True)
    )
    return {by_digest[str(d)] for d in found}
