"""Members of one brand that may be one person (docs/merge.md, Duplicates).

Identities are unique per brand, so duplicates show up in two ways:

- a write tries to give a member an identity another member holds (a WeChat
  unionid reported for a new openid member that an older member already
  has): :func:`claim` records the pair as a candidate, and when the brand
  switched ``auto_merge`` on and the identity is a verified kind, merges the
  newer member into the older one on the spot;
- fuzzy profile matches, found by :func:`scan` with bounded SQL self-joins
  (same name and birthday; same name, city and phone ending).

Candidates wait for review (``duplicateCandidates``): an operator merges the
pair (:mod:`tessera.members.merge` resolves the candidate) or dismisses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tessera.after_commit import after_transaction
from tessera.db import numbered
from tessera.errors import DomainError
from tessera.members.identities import IdentityKind
from tessera.members.models import DuplicateCandidate, Member
from tessera.members.scheme import get_settings
from tessera.scope import BrandScope
from tessera.uow import unit_of_work

IDENTITY = "identity"
NAME_BIRTHDAY = "name_birthday"
NAME_CITY_PHONE = "name_city_phone"
REASONS = (IDENTITY, NAME_BIRTHDAY, NAME_CITY_PHONE)
# Kinds a channel verifies before reporting them (an SMS code, WeChat's or
# Alipay's login, a confirmed address): a match on one is the same person.
VERIFIED_KINDS = frozenset(
    {
        IdentityKind.PHONE,
        IdentityKind.EMAIL,
        IdentityKind.WECHAT_UNIONID,
        IdentityKind.ALIPAY_USER_ID,
    }
)
SCAN_LIMIT = 1000

# Fuzzy matches: each a join condition of member b onto member a (same brand,
# b newer, neither a tombstone). Only constants reach the SQL text.
_FUZZY = {
    NAME_BIRTHDAY: "a.name <> '' AND b.name = a.name AND a.birthday IS NOT NULL "
    "AND b.birthday = a.birthday",
    # Phones are sealed (docs/privacy.md): SQL finds the pairs of one name and
    # city that both have one, :func:`_same_phone_ending` compares the endings.
    NAME_CITY_PHONE: "a.name <> '' AND b.name = a.name AND a.city <> '' AND b.city = a.city "
    "AND a.phone_sealed IS NOT NULL AND b.phone_sealed IS NOT NULL",
}


@dataclass(frozen=True)
class Claimed:
    """What :func:`claim` did: the candidate, and the survivor when the pair
    was merged automatically."""

    candidate_id: int | None
    survivor_id: int | None = None


def _pair(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


async def _insert(
    scope: BrandScope, pairs: list[tuple[int, int]], reason: str, kind: str = ""
) -> None:
    now = datetime.now(UTC)
    await scope.insert_many(
        DuplicateCandidate,
        [
            scope.build(
                DuplicateCandidate,
                member_id=a,
                other_id=b,
                reason=reason,
                kind=kind,
                status="open",
                found_at=now,
            )
            for a, b in pairs
        ],
        ignore_conflicts=True,
    )


async def claim(
    scope: BrandScope, member_id: int, holder_id: int, kind: IdentityKind, *, merge: bool = True
) -> Claimed:
    """``member_id`` was reported with an identity of ``kind`` that
    ``holder_id`` holds: record the pair (once), and with ``merge`` merge it
    when the brand merges verified duplicates automatically (the member who
    joined first survives). Runs in a transaction of its own: the refused write that
    found the clash rolls back, the candidate stays."""
    if member_id == holder_id:
        return Claimed(None)
    a, b = _pair(member_id, holder_id)
    settings = await get_settings(scope)
    if not (merge and settings.auto_merge) or kind not in VERIFIED_KINDS:

        async def note() -> None:
            await _insert(scope, [(a, b)], IDENTITY, kind.value)

        # The write that found the clash is refused and rolled back (a
        # mutation's whole transaction with it): the note is written after.
        if not after_transaction(note):
            await note()
        return Claimed(None)
    await _insert(scope, [(a, b)], IDENTITY, kind.value)
    candidate = await scope.query(DuplicateCandidate).get(member_id=a, other_id=b, reason=IDENTITY)
    if candidate.status != "open":
        return Claimed(candidate.id)
    from tessera.members.merge import merge_members

    members = {
        m.id: m for m in await scope.query(Member).filter(id__in=[a, b], merged_into_id=None)
    }
    if len(members) != 2:
        return Claimed(candidate.id)
    older, newer = sorted(members.values(), key=lambda m: (m.joined_at, m.id))
    try:
        done = await merge_members(
            scope, older.id, newer.id, idempotency_key=f"auto-merge:{a}:{b}", automatic=True
        )
    except DomainError:
        # Merged meanwhile by someone else: the candidate stays for review.
        return Claimed(candidate.id)
    return Claimed(candidate.id, done.survivor.id)


async def scan(scope: BrandScope, limit: int = SCAN_LIMIT) -> int:
    """Record fuzzy profile matches as candidates; at most ``limit`` pairs per
    reason a run (the oldest members first). Returns the pairs found."""
    found = 0
    async with unit_of_work(scope) as uow:
        conn = uow.connection
        for reason, condition in _FUZZY.items():
            rows = await conn.execute_query_dict(
                numbered(
                    conn,
                    "SELECT a.id AS a, b.id AS b FROM member a JOIN member b "
                    "ON b.brand_id = a.brand_id AND b.id > a.id AND b.merged_into_id IS NULL "
                    f"AND {condition} "
                    "WHERE a.brand_id = ? AND a.merged_into_id IS NULL "
                    f"ORDER BY a.id, b.id LIMIT {int(limit)}",
                ),
                [scope.brand_id],
            )
            pairs = [(int(r["a"]), int(r["b"])) for r in rows]
            if reason == NAME_CITY_PHONE:
                pairs = await _same_phone_ending(scope, conn, pairs)
            if pairs:
                await _insert(scope, pairs, reason)
            found += len(pairs)
    return found


async def _same_phone_ending(
    scope: BrandScope, conn: Any, pairs: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    """The pairs whose phones differ but end in the same four digits."""
    ids = {i for pair in pairs for i in pair}
    members = {m.id: m for m in await scope.query(Member).using_db(conn).filter(id__in=sorted(ids))}
    same = []
    for a, b in pairs:
        one, two = members[a].phone, members[b].phone
        if one and two and one != two and one[-4:] == two[-4:]:
            same.append((a, b))
    return same


def candidates(scope: BrandScope, status: str = "open") -> Any:
    """The brand's candidates of ``status`` (open, dismissed or merged), as a query."""
    return scope.query(DuplicateCandidate).filter(status=status)


async def dismiss(scope: BrandScope, candidate_id: int) -> DuplicateCandidate:
    """Not one person: the pair is not proposed again for this reason."""
    candidate = await scope.get(DuplicateCandidate, candidate_id)
    if candidate is None:
        raise DomainError("NOT_FOUND", "no such duplicate candidate", ["id"])
    if candidate.status == "open":
        await (
            scope.query(DuplicateCandidate)
            .filter(id=candidate.id, status="open")
            .update(status="dismissed", resolved_at=datetime.now(UTC))
        )
        await candidate.refresh_from_db(fields=["status", "resolved_at"])
    return candidate
