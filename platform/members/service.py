"""Members: registering, joining, profile changes and identities.

The only code that writes members. Every function takes the brand scope;
identity values are normalised here on the way in, for writes and lookups
alike, then sealed and indexed (:mod:`tessera.members.pii`) where they are
written: lookups compare the blind index, never the value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q

from tessera.db import numbered
from tessera.errors import DomainError, DomainErrors
from tessera.members import attributes as attrs
from tessera.members import duplicates, pii
from tessera.members.cards import next_card_number
from tessera.members.identities import PROFILE_COLUMN, IdentityKind, normalise
from tessera.members.models import Member, MemberIdentity
from tessera.members.profile import IDENTITY_FIELDS, MemberStatus, camel, clean_profile
from tessera.members.scheme import JoinRule, get_settings
from tessera.persons import linking as persons
from tessera.privacy.erased import was_erased
from tessera.reports.rollup import mark_dirty, mark_member_dirty
from tessera.scope import BrandScope
from tessera.uow import UnitOfWork, unit_of_work

_MEMBER_TABLE = Member._meta.db_table
_IDENTITY_TABLE = MemberIdentity._meta.db_table

MAX_IDENTITIES = 50
# Statuses a write may set directly; joining goes through activate_member.
_STATUS_CHANGES = {
    MemberStatus.ACTIVE: {MemberStatus.FROZEN, MemberStatus.CANCELLED},
    MemberStatus.FROZEN: {MemberStatus.ACTIVE, MemberStatus.CANCELLED},
    MemberStatus.PROSPECT: {MemberStatus.CANCELLED},
    MemberStatus.CANCELLED: set(),
    MemberStatus.ERASED: set(),
    MemberStatus.MERGED: set(),
}

IdentityInput = tuple[str, str]
# (kind, normalised value, field path of the input it came from)
_Wanted = tuple[IdentityKind, str, list[str]]


def _now() -> datetime:
    return datetime.now(UTC)


def _today(scope: BrandScope) -> Any:
    return _now().astimezone(ZoneInfo(scope.brand.timezone)).date()


def _kind(kind: str, field: list[str]) -> IdentityKind:
    try:
        return IdentityKind(kind.lower())
    except ValueError:
        raise DomainError("INVALID", f"unknown identity kind {kind!r}", field) from None


def _digest(scope: BrandScope, kind: IdentityKind, value: str) -> str:
    return pii.digest(scope.brand_id, kind.value, value)


def _stored(scope: BrandScope, values: Mapping[str, Any]) -> dict[str, Any]:
    """Member column values as stored: phone and email sealed."""
    return pii.seal_profile(scope.brand_id, scope.brand.identity_key_version, dict(values))


async def _set_profile(member: Member, scope: BrandScope, values: Mapping[str, Any]) -> None:
    stored = _stored(scope, values)
    member.update_from_dict(stored)
    await member.save(update_fields=[*stored, "updated_at"])


async def require_member(scope: BrandScope, member_id: int | None, field: str = "id") -> Member:
    """The member ``member_id`` stands for: a merge's tombstone answers its
    survivor (tessera.members.merge), so writes by an old id land there."""
    member = await scope.get(Member, member_id) if member_id is not None else None
    while member is not None and member.merged_into_id is not None:
        member = await scope.get(Member, member.merged_into_id)
    if member is None:
        raise DomainError("NOT_FOUND", "no such member", [field])
    return member


def refuse_erased(member: Member, field: str = "id") -> None:
    """Writes to an erased member are refused: they would bring personal
    data back (docs/privacy.md, "Erasure")."""
    if member.status == MemberStatus.ERASED.value:
        raise DomainError("MEMBER_ERASED", "the member's personal data was erased", [field])


async def find_by_identity(scope: BrandScope, kind: str, value: str) -> Member | None:
    """The member with this identity, normalising ``value`` as writes do."""
    identity_kind = _kind(kind, ["kind"])
    normalised = normalise(identity_kind, value, scope.brand.default_region, ["value"])
    return await _by_identity(scope, identity_kind, normalised)


async def find_by_identities(
    scope: BrandScope, identities: Iterable[tuple[str, str]], field: list[str] | None = None
) -> dict[tuple[str, str], Member | None | DomainError]:
    """:func:`find_by_identity` for many (kind, value) pairs at once: one query
    for all of them. Each pair maps to its member, None, or the error its kind
    or value is refused with (fields under ``field``)."""
    found: dict[tuple[str, str], Member | None | DomainError] = {}
    wanted: dict[tuple[str, str], tuple[str, str]] = {}  # (kind, digest) -> as given
    for kind, value in set(identities):
        try:
            identity_kind = _kind(kind, [*(field or []), "kind"])
            normalised = normalise(
                identity_kind, value, scope.brand.default_region, [*(field or []), "value"]
            )
        except DomainError as error:
            found[(kind, value)] = error
            continue
        found[(kind, value)] = None
        wanted[(identity_kind.value, _digest(scope, identity_kind, normalised))] = (kind, value)
    if wanted:
        rows = (
            await scope.query(MemberIdentity)
            .filter(digest__in={d for _, d in wanted}, kind__in={k for k, _ in wanted})
            .select_related("member")
        )
        for row in rows:
            given = wanted.get((row.kind, row.digest))
            if given is not None:
                found[given] = row.member
    return found


async def identities_of(
    scope: BrandScope, member_ids: Sequence[int]
) -> dict[int, list[MemberIdentity]]:
    """Identities of many members in one query (for dataloaders)."""
    result: dict[int, list[MemberIdentity]] = {member_id: [] for member_id in member_ids}
    rows = await scope.query(MemberIdentity).filter(member_id__in=list(member_ids)).order_by("id")
    for row in rows:
        result[row.member_id].append(row)
    return result


async def _taken(
    scope: BrandScope, wanted: Iterable[_Wanted], member_id: int | None
) -> list[DomainError]:
    """Errors for wanted identities that belong to another member."""
    wanted = list(wanted)
    if not wanted:
        return []
    digests = {(kind, value): _digest(scope, kind, value) for kind, value, _ in wanted}
    condition = Q()
    for (kind, _), digest in digests.items():
        condition |= Q(kind=kind.value, digest=digest)
    rows = (
        await scope.query(MemberIdentity)
        .filter(condition)
        .values_list("kind", "digest", "member_id")
    )
    owners = {(kind, digest): owner for kind, digest, owner in rows}
    return [
        DomainError(
            "DUPLICATE_IDENTITY",
            f"another member already has the {kind.name} {value}",
            field,
        )
        for kind, value, field in wanted
        if owners.get((kind.value, digests[(kind, value)]), member_id) != member_id
    ]


def _duplicate(error: IntegrityError) -> DomainError:
    # A concurrent write took the identity between our check and our insert.
    return DomainError("DUPLICATE_IDENTITY", "another member already has one of these identities")


_FIELD_OF = {name: camel(name) for name in IDENTITY_FIELDS}


def draft_member(
    scope: BrandScope,
    profile: Mapping[str, Any],
    definitions: dict[str, attrs.AttributeDefinition],
    today: date,
    identities: Sequence[IdentityInput] = (),
    attributes: Any = None,
    card_number: str | None = None,
) -> tuple[dict[str, Any], list[_Wanted]]:
    """A new member's column values and its distinct normalised identities,
    checked as :func:`create_member` checks them, without touching the
    database (a batch checks every row first, then looks their identities up
    at once). Raises :class:`DomainErrors` naming every problem."""
    values, wanted, errors = _draft(
        scope, profile, definitions, today, identities, attributes, card_number
    )
    if errors:
        raise DomainErrors(errors)
    return values, wanted


def _draft(
    scope: BrandScope,
    profile: Mapping[str, Any],
    definitions: dict[str, attrs.AttributeDefinition],
    today: date,
    identities: Sequence[IdentityInput] = (),
    attributes: Any = None,
    card_number: str | None = None,
) -> tuple[dict[str, Any], list[_Wanted], list[DomainError]]:
    errors: list[DomainError] = []
    try:
        values = clean_profile(profile, scope.brand.default_region, today)
    except DomainErrors as error:
        values, errors = {}, list(error.errors)
    wanted: list[_Wanted] = []
    for name, kind in IDENTITY_FIELDS.items():
        if values.get(name):
            wanted.append((kind, values[name], [_FIELD_OF[name]]))
    for index, (kind_name, raw) in enumerate(identities):
        field = ["identities", str(index)]
        try:
            kind = _kind(kind_name, [*field, "kind"])
            wanted.append(
                (
                    kind,
                    normalise(kind, raw, scope.brand.default_region, [*field, "value"]),
                    [*field, "value"],
                )
            )
        except DomainError as error:
            errors.append(error)
    if card_number is not None:
        try:
            card = normalise(IdentityKind.CARD_NUMBER, card_number, "", ["cardNumber"])
            wanted.append((IdentityKind.CARD_NUMBER, card, ["cardNumber"]))
            values["card_number"] = card
        except DomainError as error:
            errors.append(error)
    try:
        values["attributes"] = attrs.merge_attributes(
            definitions, {}, attributes or {}, field=["attributes"]
        )
    except DomainErrors as error:
        errors.extend(error.errors)
    except DomainError as error:
        errors.append(error)
    wanted = _distinct(wanted)
    if not wanted and not errors:
        errors.append(
            DomainError(
                "IDENTITY_REQUIRED",
                "give at least one identity (phone, email, external id or identities)",
                ["identities"],
            )
        )
    if len(wanted) > MAX_IDENTITIES:
        errors.append(
            DomainError("TOO_MANY", f"at most {MAX_IDENTITIES} identities", ["identities"])
        )
    if not errors:
        for kind, value, _ in wanted:
            column = PROFILE_COLUMN.get(kind)
            if column and not values.get(column):
                values[column] = value
    return values, wanted, errors


async def create_member(
    scope: BrandScope,
    profile: Mapping[str, Any],
    *,
    identities: Sequence[IdentityInput] = (),
    attributes: Any = None,  # validated: must be a JSON object
    card_number: str | None = None,
    joined_at: datetime | None = None,
    imported: bool = False,
) -> Member:
    """Register a person. Under the ``registration`` join rule they join now
    (card number, ``member.joined``); otherwise they are a prospect until their
    first purchase or payment (see :class:`tessera.members.scheme.JoinRule`).

    :param profile: profile fields by name (``name``, ``phone``, ``gender``...).
    :param identities: more (kind, value) pairs; phone, email and external id
        in ``profile`` become identities too. At least one identity is needed.
    :param card_number: an existing card to keep (an old CRM's member); else
        one is generated when the member joins.
    :param joined_at: when they joined, for a member brought over from an old
        CRM (an import); default now.
    :param imported: brought over from an old CRM: ``member.joined`` says so,
        and joining rewards (a registration bonus) are not granted again.
    """
    definitions = await attrs.definitions_by_key(scope)
    values, wanted, errors = _draft(
        scope, profile, definitions, _today(scope), identities, attributes, card_number
    )
    errors += await _taken(scope, wanted, None)
    if errors:
        raise DomainErrors(errors)

    settings = await get_settings(scope)
    joins = JoinRule(settings.join_rule) is JoinRule.REGISTRATION
    try:
        async with unit_of_work(scope) as uow:
            member = await scope.create(
                Member,
                status=(MemberStatus.ACTIVE if joins else MemberStatus.PROSPECT).value,
                joined_at=joined_at or _now(),
                **_stored(scope, values),
            )
            await _insert_identities(scope, member, [(k, v) for k, v, _ in wanted])
            if joins:
                await _join(scope, uow, member, at=joined_at, imported=imported)
            else:
                # A prospect counts in the member growth report from its joined_at.
                await mark_dirty(scope, uow.connection, [member.joined_at])
                persons.link_after_commit(uow, [member.id])
    except IntegrityError as error:
        raise _duplicate(error) from None
    return member


def _distinct(wanted: list[_Wanted]) -> list[_Wanted]:
    seen: set[tuple[IdentityKind, str]] = set()
    result = []
    for item in wanted:
        if (item[0], item[1]) not in seen:
            seen.add((item[0], item[1]))
            result.append(item)
    return result


async def _insert_identities(
    scope: BrandScope, member: Member, pairs: Sequence[tuple[IdentityKind, str]]
) -> None:
    if pairs:
        version = scope.brand.identity_key_version
        await scope.insert_many(
            MemberIdentity,
            [
                scope.build(
                    MemberIdentity,
                    member_id=member.id,
                    **pii.identity_columns(scope.brand_id, version, k.value, v),
                )
                for k, v in pairs
            ],
        )
        await persons.record_identities(scope, [(member.id, k, v) for k, v in pairs])


async def _join(
    scope: BrandScope,
    uow: UnitOfWork,
    member: Member,
    channel: str | None = None,
    at: datetime | None = None,
    imported: bool = False,
) -> None:
    """Make ``member`` a member now (or ``at``): status, join time, a card if they have none."""
    member.status = MemberStatus.ACTIVE.value
    was = member.joined_at
    member.joined_at = at or _now()
    fields = ["status", "joined_at", "updated_at"]
    if channel is not None and not member.join_channel:
        member.join_channel = channel
        fields.append("join_channel")
    # The member growth report's join days: the one it leaves (a prospect's
    # creation, or the row just created) and the one it joins on.
    await mark_dirty(scope, uow.connection, [was, member.joined_at])
    if not member.card_number:
        member.card_number = await next_card_number(scope, uow.connection)
        await _insert_identities(scope, member, [(IdentityKind.CARD_NUMBER, member.card_number)])
        fields.append("card_number")
        # A prospect's orders become a member's: the sales rollup's days move.
        await mark_member_dirty(scope, uow.connection, member.id)
    await member.save(update_fields=fields)
    uow.emit(
        "member.joined",
        member_id=member.id,
        join_channel=member.join_channel or None,
        card_number=member.card_number,
        imported=imported,
    )


async def activate_member(
    scope: BrandScope, member_id: int, *, join_channel: str | None = None
) -> Member:
    """A prospect joins (paid the fee, or an operator lets them in). Joining
    twice is harmless: an active member is returned as it is."""
    member = await require_member(scope, member_id)
    status = MemberStatus(member.status)
    if status is MemberStatus.ACTIVE:
        return member
    if status is not MemberStatus.PROSPECT:
        raise DomainError("INVALID_STATUS", f"a {status.value} member cannot join", ["id"])
    async with unit_of_work(scope) as uow:
        await _join(scope, uow, member, join_channel)
    return member


async def update_member(
    scope: BrandScope,
    member_id: int,
    profile: Mapping[str, Any],
    *,
    attributes: Any = None,  # validated: must be a JSON object
    status: MemberStatus | None = None,
) -> Member:
    """Change profile fields present in ``profile`` (``None`` clears one).
    Changing phone, email or external id replaces that identity."""
    member = await require_member(scope, member_id)
    refuse_erased(member)
    errors: list[DomainError] = []
    try:
        values = clean_profile(profile, scope.brand.default_region, _today(scope))
    except DomainErrors as error:
        values, errors = {}, list(error.errors)
    if attributes is not None:
        try:
            definitions = await attrs.definitions_by_key(scope)
            values["attributes"] = attrs.merge_attributes(
                definitions, member.attributes, attributes, field=["attributes"]
            )
        except DomainErrors as error:
            errors.extend(error.errors)
    if status is not None and status.value != member.status:
        if status not in _STATUS_CHANGES[MemberStatus(member.status)]:
            errors.append(
                DomainError(
                    "INVALID_STATUS",
                    f"a {member.status} member cannot become {status.value}"
                    + (
                        " (prospects join through activateMember)"
                        if status is MemberStatus.ACTIVE
                        else ""
                    ),
                    ["status"],
                )
            )
        values["status"] = status.value
    swaps = {
        IDENTITY_FIELDS[name]: values[name]
        for name in IDENTITY_FIELDS
        if name in values and values[name] != getattr(member, name)
    }
    clashes = await _taken(
        scope,
        [(kind, value, [camel(PROFILE_COLUMN[kind])]) for kind, value in swaps.items() if value],
        member.id,
    )
    for kind, value in swaps.items():
        holder = await _by_identity(scope, kind, value) if clashes and value else None
        if holder is not None and holder.id != member.id:
            await duplicates.claim(scope, member.id, holder.id, kind, merge=False)
    errors += clashes
    if errors:
        raise DomainErrors(errors)
    changed = [name for name, value in values.items() if getattr(member, name) != value]
    if not changed:
        return member
    try:
        async with unit_of_work(scope) as uow:
            for kind, value in swaps.items():
                await _swap_identity(
                    scope, member, kind, getattr(member, PROFILE_COLUMN[kind]), value
                )
                values[PROFILE_COLUMN[kind]] = await _primary(scope, member, kind, value)
            if not await scope.query(MemberIdentity).filter(member_id=member.id).exists():
                raise DomainError(
                    "LAST_IDENTITY", "a member keeps at least one identity", [camel(changed[0])]
                )
            await _set_profile(member, scope, values)
            if {"join_channel", "join_source"} & set(changed):
                await mark_dirty(scope, uow.connection, [member.joined_at])
            uow.emit(
                "member.updated", member_id=member.id, changed=sorted(camel(n) for n in changed)
            )
    except IntegrityError as error:
        raise _duplicate(error) from None
    return member


async def _swap_identity(
    scope: BrandScope, member: Member, kind: IdentityKind, old: str | None, new: str | None
) -> None:
    if old:
        await (
            scope.query(MemberIdentity)
            .filter(member_id=member.id, kind=kind.value, digest=_digest(scope, kind, old))
            .delete()
        )
        await persons.forget_identity(scope, member.id, kind, old)
    if (
        new
        and not await scope.query(MemberIdentity)
        .filter(member_id=member.id, kind=kind.value, digest=_digest(scope, kind, new))
        .exists()
    ):
        await _insert_identities(scope, member, [(kind, new)])


async def _primary(
    scope: BrandScope, member: Member, kind: IdentityKind, wanted: str | None
) -> str | None:
    """The profile value for ``kind``: the one asked for, else the member's
    oldest remaining identity of that kind."""
    if wanted:
        return wanted
    first = (
        await scope.query(MemberIdentity)
        .filter(member_id=member.id, kind=kind.value)
        .order_by("id")
        .first()
    )
    return first.value if first else None


async def add_identity(scope: BrandScope, member_id: int, kind: str, value: str) -> Member:
    """Give the member another identity; adding one they have changes nothing."""
    member = await require_member(scope, member_id, "memberId")
    refuse_erased(member, "memberId")
    identity_kind = _kind(kind, ["kind"])
    normalised = normalise(identity_kind, value, scope.brand.default_region, ["value"])
    errors = await _taken(scope, [(identity_kind, normalised, ["value"])], member.id)
    if errors:
        holder = await _by_identity(scope, identity_kind, normalised)
        if holder is not None:
            # Kept for review, or merged now when the brand says so; the
            # identity is then the survivor's, who is the answer.
            claimed = await duplicates.claim(scope, member.id, holder.id, identity_kind)
            if claimed.survivor_id is not None:
                return await require_member(scope, claimed.survivor_id, "memberId")
        raise DomainErrors(errors)
    existing = (
        await scope.query(MemberIdentity).filter(member_id=member.id).values_list("kind", "digest")
    )
    if (identity_kind.value, _digest(scope, identity_kind, normalised)) in {
        tuple(row) for row in existing
    }:
        return member
    if len(existing) >= MAX_IDENTITIES:
        raise DomainError(
            "TOO_MANY", f"a member has at most {MAX_IDENTITIES} identities", ["value"]
        )
    try:
        async with unit_of_work(scope) as uow:
            await _insert_identities(scope, member, [(identity_kind, normalised)])
            column = PROFILE_COLUMN.get(identity_kind)
            if column and not getattr(member, column):
                await _set_profile(member, scope, {column: normalised})
            uow.emit("member.updated", member_id=member.id, changed=["identities"])
    except IntegrityError as error:
        raise _duplicate(error) from None
    return member


async def remove_identity(scope: BrandScope, member_id: int, kind: str, value: str) -> Member:
    """Remove one identity. A member keeps at least one, and keeps a card."""
    member = await require_member(scope, member_id, "memberId")
    identity_kind = _kind(kind, ["kind"])
    normalised = normalise(identity_kind, value, scope.brand.default_region, ["value"])
    rows = await scope.query(MemberIdentity).filter(member_id=member.id).order_by("id")
    digest = _digest(scope, identity_kind, normalised)
    target = next((r for r in rows if r.kind == identity_kind.value and r.digest == digest), None)
    if target is None:
        raise DomainError(
            "NOT_FOUND", f"the member has no {identity_kind.name} {normalised}", ["value"]
        )
    if len(rows) == 1:
        raise DomainError("LAST_IDENTITY", "a member keeps at least one identity", ["value"])
    column = PROFILE_COLUMN.get(identity_kind)
    replacement = None
    if column and getattr(member, column) == normalised:
        replacement = next(
            (r.value for r in rows if r.kind == identity_kind.value and r.id != target.id), None
        )
        if identity_kind is IdentityKind.CARD_NUMBER and replacement is None:
            raise DomainError(
                "CARD_REQUIRED", "this is the member's only card; add another card first", ["value"]
            )
    async with unit_of_work(scope) as uow:
        await scope.query(MemberIdentity).filter(id=target.id).delete()
        await persons.forget_identity(scope, member.id, identity_kind, normalised)
        if column and getattr(member, column) == normalised:
            await _set_profile(member, scope, {column: replacement})
        uow.emit("member.updated", member_id=member.id, changed=["identities"])
    return member


async def member_for_fact(
    scope: BrandScope,
    uow: UnitOfWork,
    *,
    member_id: int | None,
    identity: tuple[str, str] | None,
    join_channel: str | None = None,
) -> Member:
    """The member a purchase belongs to, inside the caller's unit of work.

    By ``member_id`` or by ``identity`` (kind, value). Under the
    ``first_purchase`` join rule an unknown identity becomes a new member and a
    prospect joins (both emit ``member.joined`` on ``uow``); under any other
    rule an unknown member is ``UNKNOWN_MEMBER``. Facts that are not purchases
    (behaviour events) look members up with :func:`find_by_identity` instead.
    """
    if member_id is None and identity is None:
        raise DomainError("UNKNOWN_MEMBER", "give a member id or an identity", ["member"])
    if member_id is not None:
        member = await scope.get(Member, member_id)
        # A merge's tombstone stands for its survivor (tessera.members.merge).
        while member is not None and member.merged_into_id is not None:
            member = await scope.get(Member, member.merged_into_id)
        if member is None:
            raise DomainError("UNKNOWN_MEMBER", "no such member", ["member"])
        refuse_erased(member, "member")
        kind, normalised = None, None
    else:
        assert identity is not None
        kind = _kind(identity[0], ["member", "kind"])
        normalised = normalise(kind, identity[1], scope.brand.default_region, ["member", "value"])
        member = await _by_identity(scope, kind, normalised)
    rule = JoinRule((await get_settings(scope)).join_rule)
    if member is not None:
        if rule is JoinRule.FIRST_PURCHASE and member.status == MemberStatus.PROSPECT.value:
            await _join(scope, uow, member, join_channel)
        return member
    if (
        kind is not None
        and normalised is not None
        and await was_erased(scope, kind.value, normalised)
    ):
        # Not recorded against anyone, and no member made from it: the person
        # asked to be forgotten. They come back only by joining again
        # (createMember), which is their own act (docs/privacy.md).
        raise DomainError(
            "ERASED_IDENTITY",
            "this identity belonged to a member whose data was erased; it is not "
            "recorded against anyone, and the person must join again to be a member",
            ["member"],
        )
    if rule is not JoinRule.FIRST_PURCHASE or kind is None or normalised is None:
        raise DomainError(
            "UNKNOWN_MEMBER",
            f"no member has this identity and the brand's join rule ({rule.value}) "
            "does not create members from orders",
            ["member"],
        )
    return await _create_from_fact(scope, uow, kind, normalised, join_channel)


async def _by_identity(scope: BrandScope, kind: IdentityKind, value: str) -> Member | None:
    """Hand-built: a phone scanned at a till or a member signing in looks a
    member up this way, and the ORM spent several times the query's own time
    building its join (at most one row: the digest is unique in a brand)."""
    conn = connections.get("default")
    rows = await conn.execute_query_dict(
        numbered(
            conn,
            f'SELECT m.* FROM "{_IDENTITY_TABLE}" i JOIN "{_MEMBER_TABLE}" m '
            "ON m.id = i.member_id AND m.brand_id = i.brand_id "
            "WHERE i.brand_id = ? AND i.kind = ? AND i.digest = ?",
        ),
        [scope.brand_id, kind.value, _digest(scope, kind, value)],
    )
    found = scope.loaded(Member, rows)
    return found[0] if found else None


async def _create_from_fact(
    scope: BrandScope, uow: UnitOfWork, kind: IdentityKind, value: str, channel: str | None
) -> Member:
    column = PROFILE_COLUMN.get(kind)
    values = {column: value} if column else {}
    try:
        # A savepoint, so a concurrent first order for the same identity does
        # not abort the caller's transaction: we then use the member it made.
        async with unit_of_work(scope, uow):
            member = await scope.create(
                Member,
                status=MemberStatus.PROSPECT.value,
                joined_at=_now(),
                join_channel=(channel or "")[:32],
                **_stored(scope, values),
            )
            await _insert_identities(scope, member, [(kind, value)])
    except IntegrityError:
        existing = await _by_identity(scope, kind, value)
        if existing is None:
            raise
        return existing
    await _join(scope, uow, member, channel)
    return member
