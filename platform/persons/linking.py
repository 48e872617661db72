"""Linking members of one tenant's brands into persons (docs/persons.md).

Two steps, so that writing identities stays cheap:

1. Where an identity is written or removed (:mod:`tessera.members.service`,
   :mod:`tessera.members.batch`), with the clear value in hand, its per-tenant
   digest is written or removed in the same transaction
   (:func:`record_identities`, :func:`forget_identity`). Only the kinds in
   :data:`LINKING_KINDS` have one.
2. After the commit, the job ``persons_link`` (planned from ``member.joined``
   and identity changes, :func:`follow_ups`) reconciles the members' persons:
   the members that share a digest, directly or through others, are one
   person (a connected component); a person found to share a digest with
   another is joined into the older one.

:func:`rebuild` recomputes every person of a tenant from the identities, set
based; it gives the same grouping as the incremental path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise import connections
from tortoise.expressions import Subquery

from tessera import runtime
from tessera.crypto import tenant_digest
from tessera.members.identities import IdentityKind
from tessera.members.models import MemberIdentity
from tessera.outbox.store import FollowUp
from tessera.persons.models import Person, PersonIdentity, PersonMember
from tessera.plugin_host.events import DomainEvent
from tessera.scope import BrandScope
from tessera.tenancy.models import Brand, Tenant
from tessera.uow import UnitOfWork, unit_of_work

# Identities that name the same human being in every brand of a tenant. A
# WeChat unionid is issued per open-platform account, the same across its
# mini programs and official accounts; a phone number is what shoppers give
# every till and is SMS-verified by WeChat's getPhoneNumber. Email is left
# out: Tessera does not verify addresses and a shared or mistyped one would
# show one shopper's figures beside another's (docs/persons.md, "Privacy").
LINKING_KINDS = frozenset({IdentityKind.WECHAT_UNIONID, IdentityKind.PHONE})
_LINKING_VALUES = frozenset(k.value for k in LINKING_KINDS)

# Members read or written per statement (bound parameters stay far below
# both databases' limits).
_CHUNK = 500


def _secret() -> str:
    return runtime.current().settings.secret()


def digest(tenant_id: int, kind: IdentityKind | str, normalised_value: str) -> str:
    """The per-tenant digest of a normalised identity value."""
    return tenant_digest(_secret(), tenant_id, str(kind), normalised_value)


def _linking(kind: IdentityKind | str) -> bool:
    return str(kind) in _LINKING_VALUES


async def record_identities(
    scope: BrandScope,
    identities: Iterable[tuple[int, IdentityKind | str, str]],
    *,
    new_members: Any = None,
) -> None:
    """Write the digests of the linking ones of ``identities`` (member id,
    kind, normalised value), in the caller's transaction. ``new_members``:
    that transaction's connection, when the members were created in it (none
    of their digests can be there yet): the rows go in by ``COPY`` rather
    than as model instances with a conflict check."""
    tenant_id = scope.brand.tenant_id
    secret = _secret()
    found = {
        (member_id, str(kind), tenant_digest(secret, tenant_id, str(kind), value))
        for member_id, kind, value in identities
        if _linking(kind)
    }
    if not found:
        return
    if new_members is not None and new_members.capabilities.dialect == "postgres":
        now = datetime.now(UTC)
        async with new_members.acquire_connection() as connection:
            await connection.copy_records_to_table(
                PersonIdentity._meta.db_table,
                records=[(tenant_id, scope.brand_id, m, k, d, now) for m, k, d in sorted(found)],
                columns=["tenant_id", "brand_id", "member_id", "kind", "digest", "created_at"],
            )
        return
    rows = [
        PersonIdentity(tenant_id=tenant_id, brand_id=scope.brand_id, member_id=m, kind=k, digest=d)
        for m, k, d in sorted(found)
    ]
    await PersonIdentity.bulk_create(rows, batch_size=_CHUNK, ignore_conflicts=True)


async def forget_identity(
    scope: BrandScope, member_id: int, kind: IdentityKind | str, value: str
) -> None:
    """Remove the digest of an identity the member no longer has (the link
    job that follows the change splits its person if it was the bridge)."""
    if _linking(kind):
        await PersonIdentity.filter(
            tenant_id=scope.brand.tenant_id,
            brand_id=scope.brand_id,
            member_id=member_id,
            kind=str(kind),
            digest=digest(scope.brand.tenant_id, kind, value),
        ).delete()


async def member_link(scope: BrandScope, member_id: int) -> tuple[int | None, list[str]]:
    """The person the member belongs to (None: none) and the kinds of its
    identities that link it, for the member's own data export. The other
    brands' members of that person are theirs, not part of this brand's data."""
    link = await PersonMember.get_or_none(
        tenant_id=scope.brand.tenant_id, brand_id=scope.brand_id, member_id=member_id
    )
    kinds: list[Any] = await PersonIdentity.filter(
        tenant_id=scope.brand.tenant_id, brand_id=scope.brand_id, member_id=member_id
    ).values_list("kind", flat=True)
    return (link.person_id if link else None), sorted(set(kinds))


async def forget_member(scope: BrandScope, member_id: int) -> None:
    """An erased member: its digests go and it leaves its person (a person
    left without members goes too; one it bridged is split). For GDPR
    erasure, inside the erasure's unit of work."""
    await PersonIdentity.filter(
        tenant_id=scope.brand.tenant_id, brand_id=scope.brand_id, member_id=member_id
    ).delete()
    await _reconcile(scope.brand.tenant_id, [member_id])


async def relink_member(scope: BrandScope, merged_id: int, survivor_id: int) -> None:
    """A member merged into another of its brand: the survivor takes over the
    merged member's linking identities (the tombstone keeps none), then both
    are reconciled. For member merge, inside the merge's unit of work."""
    tenant_id = scope.brand.tenant_id
    taken = await PersonIdentity.filter(
        tenant_id=tenant_id, brand_id=scope.brand_id, member_id=merged_id
    ).values_list("kind", "digest")
    await PersonIdentity.bulk_create(
        [
            PersonIdentity(
                tenant_id=tenant_id,
                brand_id=scope.brand_id,
                member_id=survivor_id,
                kind=kind,
                digest=value,
            )
            for kind, value in taken
        ],
        ignore_conflicts=True,
    )
    await PersonIdentity.filter(
        tenant_id=tenant_id, brand_id=scope.brand_id, member_id=merged_id
    ).delete()
    await _reconcile(tenant_id, [merged_id, survivor_id])


async def move_identities(
    scope: BrandScope, from_id: int, to_id: int, identities: Sequence[tuple[str, str]]
) -> None:
    """Identities (kind, normalised value) that moved from one member of the
    brand to another (a merge undone): their digests follow them, then both
    members are reconciled. Inside the move's unit of work."""
    for kind, value in identities:
        await forget_identity(scope, from_id, kind, value)
    await record_identities(scope, [(to_id, kind, value) for kind, value in identities])
    await _reconcile(scope.brand.tenant_id, [from_id, to_id])


# Events after which a member's persons are reconciled.
_IDENTITY_FIELDS = {"identities", "phone", "email"}


def follow_ups(events: list[DomainEvent]) -> list[FollowUp]:
    """Planner (:data:`tessera.uow.FOLLOW_UPS`): link joiners and members
    whose identities changed, one coalesced entry per member."""
    wanted: set[tuple[int, int]] = set()
    for event in events:
        member_id = event.payload.get("member_id")
        if not isinstance(member_id, int):
            continue
        if event.name == "member.joined" or (
            event.name == "member.updated"
            and _IDENTITY_FIELDS & set(event.payload.get("changed") or ())
        ):
            wanted.add((event.brand_id, member_id))
    by_brand: dict[int, list[int]] = {}
    for brand_id, member_id in sorted(wanted):
        by_brand.setdefault(brand_id, []).append(member_id)
    # One member: an entry coalesced by its key (repeated changes link once).
    # Many at once (a batch of new members): one job for all of them, as
    # link_after_commit writes for bulk loads, not an outbox row per member.
    return [
        FollowUp("persons_link", (brand_id, ids), key=f"persons_link:{ids[0]}")
        if len(ids) == 1
        else FollowUp("persons_link", (brand_id, ids))
        for brand_id, ids in by_brand.items()
    ]


def link_after_commit(uow: UnitOfWork, member_ids: Sequence[int]) -> None:
    """Link these members after ``uow`` commits, for writes that emit no
    ``member.joined`` (the planner's cue): a prospect's registration, bulk
    loads. Their identities link as joined members' do, so the incremental
    path groups what :func:`rebuild` groups."""
    if member_ids:
        key = f"persons_link:{member_ids[0]}" if len(member_ids) == 1 else None
        uow.follow_up("persons_link", uow.scope.brand_id, list(member_ids), key=key)


async def persons_link(ctx: dict[str, Any], brand_id: int, member_ids: list[int]) -> None:
    """The job: reconcile these members' persons (safe to repeat)."""
    brand = await Brand.get_or_none(id=brand_id)
    if brand is None:
        return
    async with unit_of_work(BrandScope(brand)):
        await _reconcile(brand.tenant_id, member_ids)


async def _lock_tenant(tenant_id: int) -> None:
    # Linking reads then writes persons across brands: one linker per tenant
    # at a time (SQLite has one writer anyway), so two jobs cannot each make
    # a person for the same phone.
    # (A whole row: Tortoise leaves FOR UPDATE off a values_list query.)
    await Tenant.filter(id=tenant_id).select_for_update().first()


async def _ints(query: Any, column: str) -> set[int]:
    """One integer column of ``query``'s rows, as a set."""
    values: list[Any] = await query.values_list(column, flat=True)
    return {int(v) for v in values}


def _chunks(ids: Iterable[Any]) -> list[list[Any]]:
    ordered = sorted(ids)
    return [ordered[i : i + _CHUNK] for i in range(0, len(ordered), _CHUNK)]


@dataclass
class _Graph:
    """Members and the digests they hold, as far as linking reached."""

    brand_of: dict[int, int]  # member id -> brand id, for members holding a digest
    parent: dict[int, int]  # union-find over member ids

    def find(self, member_id: int) -> int:
        root = self.parent.setdefault(member_id, member_id)
        while root != self.parent[root]:
            self.parent[root] = self.parent[self.parent[root]]
            root = self.parent[root]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


async def _components(tenant_id: int, start: set[int]) -> tuple[list[set[int]], _Graph]:
    """The members that share a digest with ``start``, directly or through
    others, grouped into connected components (one per person). A digest is
    held by at most one member per brand (identities are unique within a
    brand), so components stay small; the walk is by sets, a few queries per
    round whatever the number of members."""
    graph = _Graph({}, {})
    seen_members, seen_digests = set(start), set[str]()
    frontier = set(start)
    while frontier:
        fresh: set[str] = set()
        for part in _chunks(frontier):
            for member_id, brand_id, value in await PersonIdentity.filter(
                tenant_id=tenant_id, member_id__in=part
            ).values_list("member_id", "brand_id", "digest"):
                graph.brand_of[member_id] = brand_id
                if value not in seen_digests:
                    fresh.add(value)
        seen_digests |= fresh
        frontier = set()
        for part in _chunks(fresh):
            holders: dict[str, int] = {}
            for member_id, brand_id, value in await PersonIdentity.filter(
                tenant_id=tenant_id, digest__in=part
            ).values_list("member_id", "brand_id", "digest"):
                graph.brand_of[member_id] = brand_id
                first = holders.setdefault(value, member_id)
                graph.union(first, member_id)
                if member_id not in seen_members:
                    frontier.add(member_id)
        seen_members |= frontier
    groups: dict[int, set[int]] = {}
    for member_id in seen_members:
        groups.setdefault(graph.find(member_id), set()).add(member_id)
    return list(groups.values()), graph


async def _reconcile(tenant_id: int, member_ids: Sequence[int]) -> None:
    """Make the persons of ``member_ids`` (and of everyone who shares a person
    or a digest with them) the connected components of the shared digests."""
    await _lock_tenant(tenant_id)
    pending = set(member_ids)
    old_persons: set[int] = set()
    for part in _chunks(pending):
        old_persons |= await _ints(
            PersonMember.filter(tenant_id=tenant_id, member_id__in=part), "person_id"
        )
    for part in _chunks(old_persons):
        pending |= await _ints(
            PersonMember.filter(tenant_id=tenant_id, person_id__in=part), "member_id"
        )
    components, graph = await _components(tenant_id, pending)
    await _assign(tenant_id, components, graph.brand_of)


async def _new_persons(tenant_id: int, count: int) -> list[int]:
    """``count`` new persons of the tenant, in one statement per chunk."""
    connection = connections.get("default")
    postgres = connection.capabilities.dialect == "postgres"
    now = datetime.now(UTC)
    ids: list[int] = []
    for start in range(0, count, _CHUNK):
        size = min(_CHUNK, count - start)
        if postgres:
            marks = ", ".join(f"(${2 * i + 1}, ${2 * i + 2})" for i in range(size))
        else:
            marks = ", ".join("(?, ?)" for _ in range(size))
        rows = await connection.execute_query_dict(
            f'INSERT INTO "person" ("tenant_id", "created_at") VALUES {marks} RETURNING "id"',
            [v for _ in range(size) for v in (tenant_id, now)],
        )
        # The rows are alike, so which id is whose does not matter.
        ids += sorted(int(r["id"]) for r in rows)
    return ids


async def _assign(
    tenant_id: int,
    components: list[set[int]],
    brand_of: dict[int, int],
    used: set[int] | None = None,
) -> None:
    """Link each component's members to one person: the oldest any of them
    holds that no earlier component took, else a new one. Persons the
    component's members held besides are joined into it; members holding no
    digest are unlinked; persons left with no member go."""
    everyone = set().union(*components) if components else set()
    held: dict[int, int] = {}
    for part in _chunks(everyone):
        held.update(
            await PersonMember.filter(tenant_id=tenant_id, member_id__in=part).values_list(
                "member_id", "person_id"
            )
        )
    used = set() if used is None else used
    touched = set(held.values())
    unlink: list[int] = []
    moves: dict[int, list[int]] = {}
    joins: dict[int, list[int]] = {}
    fresh: list[tuple[int | None, list[int]]] = []  # (person or None for a new one, members)
    for component in sorted(components, key=min):
        if not any(m in brand_of for m in component):
            # Members without linking identities belong to no person.
            unlink += [m for m in component if m in held]
            continue
        candidates = sorted({held[m] for m in component if m in held} - used)
        survivor = candidates[0] if candidates else None
        if survivor is not None:
            used.update(candidates)
            moves[survivor] = [m for m in component if m in held and held[m] != survivor]
            joins[survivor] = candidates[1:]
        fresh.append((survivor, [m for m in component if m not in held or survivor is None]))
    for part in _chunks(unlink):
        await PersonMember.filter(tenant_id=tenant_id, member_id__in=part).delete()
    new_ids = iter(await _new_persons(tenant_id, sum(1 for p, _ in fresh if p is None)))
    links: list[PersonMember] = []
    relinked: list[int] = []
    for person, members in fresh:
        person_id = person if person is not None else next(new_ids)
        used.add(person_id)
        for member_id in sorted(members):
            if member_id in held:
                relinked.append(member_id)  # its old person was taken by another component
                moves.setdefault(person_id, []).append(member_id)
                continue
            links.append(
                PersonMember(
                    tenant_id=tenant_id,
                    person_id=person_id,
                    brand_id=brand_of.get(member_id),
                    member_id=member_id,
                )
            )
    for survivor, members in moves.items():
        for part in _chunks(set(members)):
            await PersonMember.filter(tenant_id=tenant_id, member_id__in=part).update(
                person_id=survivor
            )
    for survivor, joined in joins.items():
        if joined:
            # The younger persons live on as pointers to the survivor.
            await Person.filter(tenant_id=tenant_id, id__in=joined).update(merged_into_id=survivor)
            await Person.filter(tenant_id=tenant_id, merged_into_id__in=joined).update(
                merged_into_id=survivor
            )
    if links:
        await PersonMember.bulk_create(links, batch_size=_CHUNK)
    left = touched - used
    if left:
        still = set(
            await PersonMember.filter(tenant_id=tenant_id, person_id__in=list(left)).values_list(
                "person_id", flat=True
            )
        )
        await _drop_persons(tenant_id, left - still)


async def _drop_persons(tenant_id: int, empty: Iterable[int]) -> None:
    """Persons left without members (their members lost their identities or
    were erased) go; a younger one pointing at them points nowhere."""
    for part in _chunks(empty):
        await Person.filter(tenant_id=tenant_id, merged_into_id__in=part).update(
            merged_into_id=None
        )
        await Person.filter(tenant_id=tenant_id, id__in=part).delete()


# ---------------------------------------------------------------------------
# Rebuilding a tenant's persons from its members' identities.


@dataclass(frozen=True)
class RebuildReport:
    identities: int
    persons: int
    linked_members: int


async def linking_identities(
    scope: BrandScope, after_id: int, limit: int
) -> list[tuple[int, int, str, str]]:
    """The brand's linking identities with ids above ``after_id``, as (id,
    member id, kind, normalised value): the one place the rebuild reads
    identity values (sealed; the rows' ``value`` reveals them)."""
    rows = await (
        scope.query(MemberIdentity)
        .filter(id__gt=after_id, kind__in=[k.value for k in LINKING_KINDS])
        .order_by("id")
        .limit(limit)
    )
    return [(row.id, row.member_id, row.kind, row.value) for row in rows]


async def rebuild(
    tenant: Tenant, progress: Callable[[str, int, int], None] | None = None
) -> RebuildReport:
    """Recompute the tenant's digests from its members' identities, then its
    persons as the connected components of shared digests (label
    propagation in SQL), keeping the ids of existing persons where it can."""
    brands = await Brand.filter(tenant_id=tenant.id).order_by("id")
    if not brands:
        return RebuildReport(0, 0, 0)
    count = 0
    async with unit_of_work(BrandScope(brands[0])):
        await _lock_tenant(tenant.id)
        await PersonIdentity.filter(tenant_id=tenant.id).delete()
    for brand in brands:
        scope = BrandScope(brand)
        total = await scope.query(MemberIdentity).filter(kind__in=sorted(LINKING_KINDS)).count()
        after, done = 0, 0
        while True:
            rows = await linking_identities(scope, after, _CHUNK)
            if not rows:
                break
            async with unit_of_work(scope):
                await record_identities(scope, [(m, k, v) for _, m, k, v in rows])
            after = rows[-1][0]
            done += len(rows)
            if progress is not None:
                progress(brand.code, done, max(total, done))
        count += done
    async with unit_of_work(BrandScope(brands[0])) as uow:
        await _lock_tenant(tenant.id)
        labels = await _labels(uow.connection, tenant.id)
        await _reassign(tenant.id, labels)
    persons = (
        await PersonMember.filter(tenant_id=tenant.id)
        .distinct()
        .values_list("person_id", flat=True)
    )
    return RebuildReport(count, len(set(persons)), len(labels))


async def _labels(connection: Any, tenant_id: int) -> dict[int, int]:
    """member id -> the smallest member id of its component, by label
    propagation: each member takes the smallest label among the members it
    shares a digest with, until nothing changes (as many rounds as the
    longest chain of members, in practice two or three)."""
    postgres = connection.capabilities.dialect == "postgres"

    def bound(sql: str) -> tuple[str, list[int]]:
        # The tenant's id wherever the statement says {t}.
        count = sql.count("{t}")
        return sql.replace("{t}", "$1" if postgres else "?"), [tenant_id] * (
            1 if postgres else count
        )

    await connection.execute_script("DROP TABLE IF EXISTS person_label")
    await connection.execute_script(
        "CREATE TEMPORARY TABLE person_label (member_id BIGINT PRIMARY KEY, label BIGINT NOT NULL)"
    )
    await connection.execute_query(
        *bound(
            "INSERT INTO person_label (member_id, label) "
            "SELECT DISTINCT member_id, member_id FROM person_identity WHERE tenant_id = {t}"
        )
    )
    # Each round, every member takes the smallest label of the members it
    # shares a digest with (itself included), if smaller: one set-based UPDATE.
    update = bound(
        "UPDATE person_label SET label = smaller.label FROM ("
        "SELECT mine.member_id, MIN(other.label) AS label FROM person_identity mine "
        "JOIN person_identity theirs ON theirs.tenant_id = {t} AND theirs.digest = mine.digest "
        "JOIN person_label other ON other.member_id = theirs.member_id "
        "WHERE mine.tenant_id = {t} GROUP BY mine.member_id) AS smaller "
        "WHERE smaller.member_id = person_label.member_id AND smaller.label < person_label.label"
    )
    while True:
        changed, _ = await connection.execute_query(*update)
        if not changed:
            break
    rows = await connection.execute_query_dict("SELECT member_id, label FROM person_label")
    await connection.execute_script("DROP TABLE person_label")
    return {int(r["member_id"]): int(r["label"]) for r in rows}


async def _reassign(tenant_id: int, labels: dict[int, int]) -> None:
    """Link members to persons by component (see :func:`_assign`); members
    no component holds are unlinked and persons left empty go."""
    components: dict[int, set[int]] = {}
    for member_id, label in labels.items():
        components.setdefault(label, set()).add(member_id)
    stale = set(
        await PersonMember.filter(tenant_id=tenant_id).values_list("member_id", flat=True)
    ) - set(labels)
    for part in _chunks(stale):
        await PersonMember.filter(tenant_id=tenant_id, member_id__in=part).delete()
    brand_of: dict[int, int] = {}
    for part in _chunks(labels):
        brand_of.update(
            await PersonIdentity.filter(tenant_id=tenant_id, member_id__in=part).values_list(
                "member_id", "brand_id"
            )
        )
    ordered = sorted(components.values(), key=min)
    used: set[int] = set()
    for start in range(0, len(ordered), _CHUNK):
        await _assign(tenant_id, ordered[start : start + _CHUNK], brand_of, used)
    linked = Subquery(PersonMember.filter(tenant_id=tenant_id).values("person_id"))
    empty = await _ints(
        Person.filter(tenant_id=tenant_id, merged_into_id__isnull=True, id__not_in=linked), "id"
    )
    await _drop_persons(tenant_id, empty)
