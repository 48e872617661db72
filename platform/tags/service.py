"""Tags and tag groups, and putting tags on members in bulk."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.functions import Count
from tortoise.queryset import QuerySet

from tessera.errors import DomainError
from tessera.members.batch import identity_owners
from tessera.members.identities import IdentityKind, normalise
from tessera.members.models import Member
from tessera.scope import BrandScope
from tessera.segments.materialise import Statement
from tessera.tags import bulk
from tessera.tags.models import Tag, TagAssignment, TagGroup
from tessera.uow import unit_of_work

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
MAX_MEMBERS_PER_CALL = 10_000
MAX_TAGS_PER_CALL = 20
MAX_EXPIRY_DAYS = 3650


class TagSource(StrEnum):
    MANUAL = "manual"
    RULE = "rule"
    PLUGIN = "plugin"
    IMPORT = "import"


def _now() -> datetime:
    return datetime.now(UTC)


def _check_code(code: str) -> str:
    if not _CODE.match(code):
        raise DomainError("INVALID", "code is 1-64 letters, digits, '_', '.', ':' or '-'", ["code"])
    return code


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 200:
        raise DomainError("INVALID", "name is 1-200 characters", ["name"])
    return name


# Tag groups


async def list_groups(scope: BrandScope) -> list[TagGroup]:
    return await scope.query(TagGroup).order_by("name", "id")


async def groups_by_id(scope: BrandScope, ids: Sequence[int]) -> dict[int, TagGroup]:
    return {g.id: g for g in await scope.query(TagGroup).filter(id__in=list(ids))}


async def create_group(scope: BrandScope, code: str, name: str, description: str = "") -> TagGroup:
    _check_code(code)
    name = _check_name(name)
    if await scope.query(TagGroup).filter(code=code).exists():
        raise DomainError("DUPLICATE", f"a tag group {code!r} exists", ["code"])
    try:
        return await scope.create(TagGroup, code=code, name=name, description=description)
    except IntegrityError:
        raise DomainError("DUPLICATE", f"a tag group {code!r} exists", ["code"]) from None


async def _group(scope: BrandScope, group_id: int | None, field: str = "id") -> TagGroup:
    group = await scope.get(TagGroup, group_id) if group_id is not None else None
    if group is None:
        raise DomainError("NOT_FOUND", "no such tag group", [field])
    return group


async def update_group(
    scope: BrandScope, group_id: int, *, name: str | None = None, description: str | None = None
) -> TagGroup:
    group = await _group(scope, group_id)
    if name is not None:
        group.name = _check_name(name)
    if description is not None:
        group.description = description
    await group.save()
    return group


async def delete_group(scope: BrandScope, group_id: int) -> None:
    """Delete the group; its tags stay, ungrouped."""
    group = await _group(scope, group_id)
    await group.delete()


# Tags


def tags_query(
    scope: BrandScope, group_code: str | None = None, search: str | None = None
) -> QuerySet[Tag]:
    query = scope.query(Tag)
    if group_code is not None:
        query = query.filter(group__code=group_code, group__brand_id=scope.brand_id)
    if search:
        query = query.filter(Q(code__icontains=search) | Q(name__icontains=search))
    return query


async def tag_ids_by_code(scope: BrandScope, codes: Iterable[str]) -> dict[str, int]:
    rows = await scope.query(Tag).filter(code__in=list(codes)).values_list("code", "id")
    return {code: tag_id for code, tag_id in rows}


def _check_expiry_days(days: int | None) -> int | None:
    if days is not None and not 1 <= days <= MAX_EXPIRY_DAYS:
        raise DomainError(
            "INVALID",
            f"defaultExpiryDays is between 1 and {MAX_EXPIRY_DAYS}",
            ["defaultExpiryDays"],
        )
    return days


async def create_tag(
    scope: BrandScope,
    code: str,
    name: str,
    *,
    description: str = "",
    group_id: int | None = None,
    default_expiry_days: int | None = None,
) -> Tag:
    _check_code(code)
    name = _check_name(name)
    _check_expiry_days(default_expiry_days)
    if group_id is not None:
        await _group(scope, group_id, "groupId")
    if await scope.query(Tag).filter(code=code).exists():
        raise DomainError("DUPLICATE", f"a tag {code!r} exists", ["code"])
    try:
        return await scope.create(
            Tag,
            code=code,
            name=name,
            description=description,
            group_id=group_id,
            default_expiry_days=default_expiry_days,
        )
    except IntegrityError:
        raise DomainError("DUPLICATE", f"a tag {code!r} exists", ["code"]) from None


async def require_tag(scope: BrandScope, tag_id: int | None) -> Tag:
    tag = await scope.get(Tag, tag_id) if tag_id is not None else None
    if tag is None:
        raise DomainError("NOT_FOUND", "no such tag", ["id"])
    return tag


async def update_tag(scope: BrandScope, tag_id: int, changes: Mapping[str, Any]) -> Tag:
    """Change ``name``, ``description``, ``group_id`` or ``default_expiry_days``
    (present keys only; ``None`` clears the group or the expiry). The code is
    fixed: integrations and segment rules refer to it."""
    tag = await require_tag(scope, tag_id)
    if "name" in changes:
        tag.name = _check_name(changes["name"] or "")
    if "description" in changes:
        tag.description = changes["description"] or ""
    if "group_id" in changes:
        if changes["group_id"] is not None:
            await _group(scope, changes["group_id"], "groupId")
        tag.group_id = changes["group_id"]
    if "default_expiry_days" in changes:
        tag.default_expiry_days = _check_expiry_days(changes["default_expiry_days"])
    await tag.save()
    return tag


async def delete_tag(scope: BrandScope, tag_id: int) -> None:
    """Delete the tag and every assignment of it."""
    tag = await require_tag(scope, tag_id)
    async with unit_of_work(scope) as uow:
        count = await scope.query(TagAssignment).filter(tag_id=tag.id).count()
        await scope.query(TagAssignment).filter(tag_id=tag.id).delete()
        await tag.delete()
        uow.emit("tags.changed", action="tag_deleted", tags=[tag.code], assignments_removed=count)


# Assignments


def active_assignments(scope: BrandScope, now: datetime) -> QuerySet[TagAssignment]:
    """Assignments that have not expired: the only ones shown or matched."""
    return scope.query(TagAssignment).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))


async def assignments_of(
    scope: BrandScope, member_ids: Sequence[int], now: datetime | None = None
) -> dict[int, list[TagAssignment]]:
    """Live assignments of many members, with their tags, in one query."""
    result: dict[int, list[TagAssignment]] = {member_id: [] for member_id in member_ids}
    rows = (
        await active_assignments(scope, now or _now())
        .filter(member_id__in=list(member_ids))
        .select_related("tag")
        .order_by("member_id", "tag_id", "source")
    )
    for row in rows:
        result[row.member_id].append(row)
    return result


async def member_counts(
    scope: BrandScope, tag_ids: Sequence[int], now: datetime | None = None
) -> dict[int, int]:
    """How many members carry each tag now (live assignments, any source),
    in one grouped query."""
    rows = (
        await active_assignments(scope, now or _now())
        .filter(tag_id__in=list(tag_ids))
        .annotate(members=Count("member_id", distinct=True))
        .group_by("tag_id")
        .values_list("tag_id", "members")
    )
    counts = {tag_id: 0 for tag_id in tag_ids}
    counts.update({tag_id: members for tag_id, members in rows})
    return counts


TAG_COLUMNS = ("id", "group_id", "code", "name", "description", "default_expiry_days", "created_at")


async def live_tags_of(
    scope: BrandScope, member_ids: Sequence[int], now: datetime | None = None
) -> dict[int, list[dict[str, Any]]]:
    """The distinct tags on many members' live assignments, by tag id, in one
    query of plain rows (``TAG_COLUMNS``): a page of members reads this
    without building an assignment and a tag object per row. Hand-written:
    the ORM's join and filter building cost more CPU than the page's rows."""
    result: dict[int, list[dict[str, Any]]] = {member_id: [] for member_id in member_ids}
    if not member_ids:
        return result
    connection = TagAssignment._meta.db
    stmt = Statement(connection.capabilities.dialect)
    brand_id = int(scope.brand_id)
    _, rows = await connection.execute_query(
        "SELECT DISTINCT a.member_id, t.id, t.group_id, t.code, t.name, t.description, "
        "t.default_expiry_days, t.created_at FROM tag_assignment a "
        f"JOIN tag t ON t.id = a.tag_id AND t.brand_id = {brand_id} "
        f"WHERE a.brand_id = {brand_id} AND a.member_id IN ({stmt.ids(list(member_ids))}) "
        f"AND (a.expires_at IS NULL OR a.expires_at > {stmt(now or _now())}) "
        "ORDER BY a.member_id, t.id",
        stmt.params,
    )
    created_at = Tag._meta.fields_map["created_at"].to_python_value
    tags: dict[int, dict[str, Any]] = {}  # a page's members share few tags: one dict each
    for member_id, *values in rows:
        tag = tags.get(values[0])
        if tag is None:
            tag = tags[values[0]] = dict(zip(TAG_COLUMNS, values, strict=True))
            tag["created_at"] = created_at(tag["created_at"])
        result[member_id].append(tag)
    return result


@dataclass(frozen=True)
class UnknownMember:
    """An input that matched no member of the brand (reported, not fatal)."""

    index: int
    reference: str
    reason: str
    list_name: str  # "memberIds" or "identities"


@dataclass
class BulkResult:
    matched_member_ids: list[int] = field(default_factory=list)
    changed_member_ids: list[int] = field(default_factory=list)
    changed_count: int = 0
    unknown: list[UnknownMember] = field(default_factory=list)


async def _resolve_members(
    scope: BrandScope, member_ids: Sequence[int | None], identities: Sequence[tuple[str, str]]
) -> tuple[list[int], list[UnknownMember]]:
    """Member ids of the brand for the given ids and identities, in two
    queries whatever their number. ``None`` ids are ids that did not decode."""
    unknown: list[UnknownMember] = []
    wanted_ids = [i for i in member_ids if i is not None]
    found_ids: set[int] = set()
    if wanted_ids:
        found_ids = set(
            cast(
                list[int],
                await scope.query(Member).filter(id__in=wanted_ids).values_list("id", flat=True),
            )
        )
    for index, member_id in enumerate(member_ids):
        if member_id is None or member_id not in found_ids:
            unknown.append(
                UnknownMember(index, str(member_id or ""), "no such member", "memberIds")
            )

    normalised: list[tuple[int, str, str] | None] = []
    for index, (kind_name, value) in enumerate(identities):
        try:
            kind = IdentityKind(kind_name.lower())
            normalised.append(
                (index, kind.value, normalise(kind, value, scope.brand.default_region, []))
            )
        except (ValueError, DomainError) as error:
            reason = (
                error.message if isinstance(error, DomainError) else f"unknown kind {kind_name!r}"
            )
            unknown.append(
                UnknownMember(index, f"{kind_name.upper()}:{value}", reason, "identities")
            )
    by_kind: dict[str, list[str]] = {}
    for item in normalised:
        if item is not None:
            by_kind.setdefault(item[1], []).append(item[2])
    owners = await identity_owners(
        scope, [(kind, value) for kind, values in by_kind.items() for value in values]
    )
    for item in normalised:
        if item is None:
            continue
        index, kind_value, value = item
        owner = owners.get((kind_value, value))
        if owner is None:
            unknown.append(
                UnknownMember(
                    index, f"{kind_value.upper()}:{value}", "no member has it", "identities"
                )
            )
        else:
            found_ids.add(owner)
    return sorted(found_ids), unknown


def _check_bulk(
    tag_codes: Sequence[str], member_ids: Sequence[Any], identities: Sequence[Any]
) -> None:
    if not tag_codes:
        raise DomainError("INVALID", "give at least one tag", ["tags"])
    if len(tag_codes) > MAX_TAGS_PER_CALL:
        raise DomainError("TOO_MANY", f"at most {MAX_TAGS_PER_CALL} tags per call", ["tags"])
    for index, code in enumerate(tag_codes):
        # No such tag can exist; checked before the lookup, which refuses over-long values.
        if not _CODE.match(code):
            raise DomainError("UNKNOWN_TAG", f"no tag {code!r}", ["tags", str(index)])
    if len(member_ids) + len(identities) > MAX_MEMBERS_PER_CALL:
        raise DomainError(
            "TOO_MANY",
            f"at most {MAX_MEMBERS_PER_CALL} member ids and identities per call",
            ["memberIds"],
        )


async def _tags_for(scope: BrandScope, codes: Sequence[str]) -> list[Tag]:
    tags = {t.code: t for t in await scope.query(Tag).filter(code__in=list(set(codes)))}
    for index, code in enumerate(codes):
        if code not in tags:
            raise DomainError("UNKNOWN_TAG", f"no tag {code!r}", ["tags", str(index)])
    return [tags[code] for code in dict.fromkeys(codes)]


def _expiry(tag: Tag, expires_at: datetime | None, now: datetime) -> datetime | None:
    if expires_at is not None:
        return expires_at.astimezone(UTC)
    if tag.default_expiry_days:
        return (now + timedelta(days=tag.default_expiry_days)).astimezone(UTC)
    return None


async def tag_members(
    scope: BrandScope,
    tag_codes: Sequence[str],
    *,
    member_ids: Sequence[int | None] = (),
    identities: Sequence[tuple[str, str]] = (),
    source: TagSource = TagSource.MANUAL,
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> BulkResult:
    """Put the tags on the members, in a constant number of statements.

    Assignments are per source: tagging again with the same source sets the
    new expiry (``expires_at``, else each tag's default expiry, else none).
    Unknown members are reported in the result, not raised.
    """
    now = now or _now()
    _check_bulk(tag_codes, member_ids, identities)
    if expires_at is not None and expires_at <= now:
        raise DomainError("INVALID", "expiresAt must be in the future", ["expiresAt"])
    tags = await _tags_for(scope, tag_codes)
    found, unknown = await _resolve_members(scope, member_ids, identities)
    result = BulkResult(matched_member_ids=found, unknown=unknown)
    expiries = [(tag.id, _expiry(tag, expires_at, now)) for tag in tags]
    if not found:
        return result
    async with unit_of_work(scope) as uow:
        changed = await bulk.insert_assignments(
            uow.connection, scope.brand_id, found, expiries, source.value, now
        )
        result.changed_count = len(changed)
        result.changed_member_ids = sorted(set(changed))
        if changed:
            uow.emit(
                "tags.changed",
                action="tagged",
                tags=[t.code for t in tags],
                source=source.value,
                member_ids=result.changed_member_ids,
            )
    return result


async def tag_known_members(
    scope: BrandScope,
    by_code: Mapping[str, Sequence[int]],
    *,
    source: TagSource,
    now: datetime | None = None,
) -> None:
    """:func:`tag_members` for an import: each tag code on its members, ids
    the caller has just read or created in this brand (no lookup again), the
    whole batch in one unit of work. The same assignments and
    ``tags.changed`` events as one :func:`tag_members` call per code."""
    now = now or _now()
    if not by_code:
        return
    tags = {t.code: t for t in await _tags_for(scope, sorted(by_code))}
    async with unit_of_work(scope) as uow:
        for code, member_ids in sorted(by_code.items()):
            tag = tags[code]
            changed = await bulk.insert_assignments(
                uow.connection,
                scope.brand_id,
                sorted(set(member_ids)),
                [(tag.id, _expiry(tag, None, now))],
                source.value,
                now,
            )
            if changed:
                uow.emit(
                    "tags.changed",
                    action="tagged",
                    tags=[code],
                    source=source.value,
                    member_ids=sorted(set(changed)),
                )


async def untag_members(
    scope: BrandScope,
    tag_codes: Sequence[str],
    *,
    member_ids: Sequence[int | None] = (),
    identities: Sequence[tuple[str, str]] = (),
    source: TagSource = TagSource.MANUAL,
    any_source: bool = False,
) -> BulkResult:
    """Take the tags off the members: only ``source``'s assignments, unless
    ``any_source`` (a rule's tag survives an operator's manual untagging)."""
    _check_bulk(tag_codes, member_ids, identities)
    tags = await _tags_for(scope, tag_codes)
    found, unknown = await _resolve_members(scope, member_ids, identities)
    result = BulkResult(matched_member_ids=found, unknown=unknown)
    if not found:
        return result
    async with unit_of_work(scope) as uow:
        removed = await bulk.delete_assignments(
            uow.connection,
            scope.brand_id,
            found,
            [t.id for t in tags],
            None if any_source else [source.value],
        )
        result.changed_count = len(removed)
        result.changed_member_ids = sorted(set(removed))
        if removed:
            uow.emit(
                "tags.changed",
                action="untagged",
                tags=[t.code for t in tags],
                source=None if any_source else source.value,
                member_ids=result.changed_member_ids,
            )
    return result
