"""Rotating a brand's identity key: new values are sealed under the next key
version at once, and :func:`reseal` re-encrypts what is stored under older
ones, a batch at a time.

Lookups never stop working: they compare the blind index, which rotation does
not change, and every token names the key version it was sealed with, so a
brand half re-encrypted reads as well as one fully done. Re-sealing is
resumable: it takes whatever is not yet under the brand's current version,
so running it again after an interruption finishes the job.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tortoise.expressions import F, Q

from tessera.members import pii
from tessera.members.models import Member, MemberIdentity
from tessera.scope import BrandScope
from tessera.tenancy.models import Brand
from tessera.uow import unit_of_work

BATCH_SIZE = 1000


@dataclass(frozen=True)
class Resealed:
    version: int
    identities: int
    members: int


async def rotate_identity_key(scope: BrandScope) -> int:
    """Make the brand seal new identity values under the next key version;
    returns it. Processes that loaded the brand earlier keep the version they
    read until they read it again: :func:`reseal` picks up what they write."""
    await Brand.filter(id=scope.brand_id).update(identity_key_version=F("identity_key_version") + 1)
    await scope.brand.refresh_from_db(fields=["identity_key_version"])
    return scope.brand.identity_key_version


def _stale(column: str, version: int) -> Q:
    present: dict[str, Any] = {f"{column}__isnull": False}
    current: dict[str, Any] = {f"{column}__startswith": f"{version}:"}
    return Q(**present) & ~Q(**current)


def _identities_pending(scope: BrandScope, version: int) -> Any:
    return scope.query(MemberIdentity).filter(_stale("sealed", version))


def _members_pending(scope: BrandScope, version: int) -> Any:
    stale = _stale("phone_sealed", version) | _stale("email_sealed", version)
    return scope.query(Member).filter(stale)


async def pending(scope: BrandScope) -> int:
    """Stored values (identity rows and member rows) not yet under the current key."""
    version = scope.brand.identity_key_version
    identities: int = await _identities_pending(scope, version).count()
    members: int = await _members_pending(scope, version).count()
    return identities + members


async def reseal(
    scope: BrandScope,
    *,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], object] | None = None,
) -> Resealed:
    """Re-encrypt the brand's sealed values under its current key version.
    Each batch is read with its rows locked and written in one statement, in
    one transaction, so a concurrent profile change is neither lost nor
    overwritten. ``progress`` receives the rows done after each batch, between
    transactions (and is awaited if it returns an awaitable)."""
    await scope.brand.refresh_from_db(fields=["identity_key_version"])
    version = scope.brand.identity_key_version
    brand_id = scope.brand_id

    async def identity_batch(rows: Sequence[MemberIdentity], conn: Any) -> None:
        for row in rows:
            if row.sealed:
                row.sealed = pii.reseal(brand_id, version, row.kind, row.sealed)
        await scope.update_many(MemberIdentity, rows, ["sealed"], conn)

    async def member_batch(rows: Sequence[Member], conn: Any) -> None:
        for row in rows:
            if row.phone_sealed:
                row.phone_sealed = pii.reseal(brand_id, version, "phone", row.phone_sealed)
            if row.email_sealed:
                row.email_sealed = pii.reseal(brand_id, version, "email", row.email_sealed)
        await scope.update_many(Member, rows, ["phone_sealed", "email_sealed"], conn)

    counts = []
    for query, write in (
        (lambda: _identities_pending(scope, version), identity_batch),
        (lambda: _members_pending(scope, version), member_batch),
    ):
        done, last = 0, 0
        while True:
            async with unit_of_work(scope) as uow:
                rows = list(
                    await query()
                    .filter(id__gt=last)
                    .order_by("id")
                    .limit(batch_size)
                    .select_for_update()
                    .using_db(uow.connection)
                )
                if rows:
                    await write(rows, uow.connection)
            if not rows:
                break
            last, done = rows[-1].id, done + len(rows)
            if progress is not None:
                reported = progress(len(rows))
                if inspect.isawaitable(reported):
                    await reported
        counts.append(done)
    return Resealed(version, counts[0], counts[1])
