"""``tessera import members``: an old CRM's members, through the members and
tags services, so every imported member is exactly one the API could have
created (identities normalised, card numbers issued, attributes checked).

A row is matched to an existing member by any of its identities (external
id, phone, email, card number, ``identity.<kind>`` columns); a matched row
changes nothing but the ``tags`` it lists that the member lacks, so
re-importing a file changes nothing, and a run killed half-way is completed
by running it again. Rows are read and checked in batches, and a batch is a
set: one query finds its existing members, one its tags, the new members go
in with one insert per table (:func:`tessera.members.batch.create_members`)
and their tags with one statement per tag.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from tortoise import connections

from tessera.bulk_load import bulk_load
from tessera.errors import DomainError, DomainErrors
from tessera.importing.csv_rows import (
    CsvHeaderError,
    CsvRow,
    batches,
    cell_bool,
    cell_date,
    cell_decimal,
    cell_list,
    cell_time,
)
from tessera.importing.rejects import RejectsFile, reason_of
from tessera.importing.report import ImportReport, OnProgress
from tessera.members import attributes as attrs
from tessera.members import duplicates, pii
from tessera.members.batch import (
    MemberDraft,
    create_members,
    identity_owners,
    members_holding,
)
from tessera.members.identities import IdentityKind, normalise
from tessera.members.models import AttributeDefinition, Member, MemberIdentity
from tessera.members.profile import IDENTITY_FIELDS, TEXT_FIELDS
from tessera.members.service import draft_member
from tessera.persons.models import PersonIdentity
from tessera.privacy.erased import erased_among
from tessera.scope import BrandScope
from tessera.tags.models import TagAssignment
from tessera.tags.service import TagSource, tag_ids_by_code, tag_known_members

BATCH_SIZE = 1000
# What a batch writes to, analysed as the load grows (tessera.bulk_load).
_FILLS = (Member, MemberIdentity, PersonIdentity, TagAssignment)
PROFILE_COLUMNS = (*TEXT_FIELDS, "phone", "email", "external_id", "gender", "join_channel")
OTHER_COLUMNS = ("birthday", "interests", "joined_at", "card_number", "tags")
ATTRIBUTE_PREFIX = "attr."
IDENTITY_PREFIX = "identity."


@dataclass
class _Row:
    """A checked row: the member it would create, and its tags."""

    csv: CsvRow
    draft: MemberDraft
    tags: list[str]
    keys: list[tuple[str, str]] = field(default_factory=list)  # normalised identities


def check_header(header: list[str], definitions: dict[str, AttributeDefinition]) -> None:
    """Refuse a file whose columns cannot all be imported, before any row is."""
    known = {*PROFILE_COLUMNS, *OTHER_COLUMNS}
    kinds = {kind.value for kind in IdentityKind}
    problems = []
    for column in header:
        if column in known:
            continue
        if column.startswith(ATTRIBUTE_PREFIX):
            if column[len(ATTRIBUTE_PREFIX) :] not in definitions:
                problems.append(f"{column} (no such custom attribute is defined)")
        elif column.startswith(IDENTITY_PREFIX):
            if column[len(IDENTITY_PREFIX) :] not in kinds:
                problems.append(f"{column} (identity kinds: {', '.join(sorted(kinds))})")
        else:
            problems.append(column)
    if problems:
        raise CsvHeaderError("unknown column(s): " + ", ".join(problems) + "; see docs/import.md")


async def import_members(
    scope: BrandScope,
    rows: Iterable[CsvRow],
    rejects: RejectsFile,
    *,
    batch_size: int = BATCH_SIZE,
    progress: OnProgress | None = None,
    now: datetime | None = None,
) -> ImportReport:
    """Import ``rows`` (consumed lazily, ``batch_size`` at a time); refused
    rows go to ``rejects`` with their reason and the rest go in."""
    now = now or datetime.now(UTC)
    today = now.astimezone(ZoneInfo(scope.brand.timezone)).date()
    definitions = await attrs.definitions_by_key(scope)
    report = ImportReport()
    async with bulk_load(scope, _FILLS) as load:

        def check(
            batch: list[CsvRow], tags: dict[int, list[str]]
        ) -> tuple[list[_Row], list[tuple[CsvRow, DomainError, list[str]]]]:
            checked: list[_Row] = []
            refused: list[tuple[CsvRow, DomainError, list[str]]] = []  # with the row's tags
            for row in batch:
                codes = tags[id(row)]
                try:
                    checked.append(_check(scope, row, codes, definitions, now, today))
                except DomainError as error:
                    refused.append((row, error, codes))
            return checked, refused

        # The tags of the batch written last, going on (in their own
        # transaction) while the next batch is matched and created.
        tagging: asyncio.Future[None] | None = None

        async def write(
            batch: list[CsvRow], tag_ids: dict[str, int], known: int, checking: Any
        ) -> None:
            nonlocal tagging
            checked, refused = await checking if checking is not None else ([], [])
            report.rows += len(batch)
            report.unchanged += known
            for row, problem, codes in refused:
                # Every problem of the row at once, its unknown tags included.
                reason = "; ".join(
                    filter(None, [reason_of(problem), _unknown_tags(codes, tag_ids)])
                )
                _reject(report, rejects, row, reason)
            tagging = await _import_batch(scope, checked, tag_ids, rejects, report, now, tagging)
            if checked:  # rows went in (a re-import's batches fill nothing)
                await load.wrote_batch()
            rejects.flush()
            if progress is not None:
                progress(report.rows)

        # Each batch: the rows already there are recognised first, in bulk and
        # without checking them (:func:`_already_there`); the others are
        # checked in a thread while the batch before is written, so Python
        # and the database work at the same time. Never more than one batch
        # is read ahead of what is written. (Recognising in a thread too was
        # slower: the event loop then waits on the GIL for every answer.)
        # A file of new members finds none there: after a batch where the
        # look-up found nothing it is skipped for 1, 2, 4... up to 32
        # batches, then tried again (it only saves work; the full path
        # recognises the same rows).
        backoff, skipped = 0, 0
        plain = _Plain(scope.brand_id, scope.brand.default_region)
        ahead: tuple[list[CsvRow], dict[str, int], int, Any] | None = None
        try:
            for batch in batches(rows, batch_size):
                due = skipped >= backoff
                plainly = _plainly(plain, batch, keys=due)
                tag_ids = await tag_ids_by_code(
                    scope, {code for codes in plainly.tags.values() for code in codes}
                )
                there: set[int] = set()
                if not due:
                    skipped += 1
                else:
                    there = await _already_there(scope, plainly, tag_ids)
                    backoff = 0 if there else min(2 * backoff or 1, 32)
                    skipped = 0
                rest = [row for row in batch if id(row) not in there] if there else batch
                checking = (
                    asyncio.ensure_future(asyncio.to_thread(check, rest, plainly.tags))
                    if rest
                    else None
                )
                if ahead is not None:
                    await write(*ahead)
                ahead = (batch, tag_ids, len(batch) - len(rest), checking)
            if ahead is not None:
                await write(*ahead)
                ahead = None
            if tagging is not None:
                await tagging
                tagging = None
        finally:
            if ahead is not None and ahead[3] is not None:
                ahead[3].cancel()
            if tagging is not None:
                tagging.cancel()
    return report


@dataclass
class _Plainly:
    """What recognising a batch's rows takes, each worked out once: each
    row's tag codes, and (when the look-up is due) its identities as they
    would be stored."""

    tags: dict[int, list[str]]  # id(row) -> tag codes
    keys: dict[int, list[tuple[str, str]]] | None = None  # id(row) -> identities


def _plainly(plain: _Plain, batch: list[CsvRow], *, keys: bool) -> _Plainly:
    tags = {id(row): cell_list(row.values.get("tags", "")) for row in batch}
    if not keys:
        return _Plainly(tags)
    wanted: dict[int, list[tuple[str, str]]] = {}
    for row in batch:
        found = plain.keys(row)
        if found:
            wanted[id(row)] = found
    return _Plainly(tags, wanted)


async def _already_there(
    scope: BrandScope,
    plainly: _Plainly,
    tag_ids: dict[str, int],
) -> set[int]:
    """``id()`` of the rows of the batch that are surely members already and
    would change nothing: a re-run skips them without checking them (the
    check, phone numbers above all, is most of a row's cost). A row is one
    when each of its identities, in the form it would be stored in, is one
    and the same member's, and that member carries each of its tags from an
    import already: exactly the rows the
    full path would count as "already there" and do nothing for. Whatever
    this cannot tell cheaply (a phone written with a trunk prefix, an
    address with non-ASCII characters) is left to the full path.

    Rows with an external id are looked up by it first
    (:func:`_held_by_external_id`); the others, and those it does not
    recognise, by their identities' owners (:func:`_held_by_identities`).
    Up to three queries: those two, the members' imported tags."""
    wanted = plainly.keys or {}
    if not wanted:
        return set()
    owner = await _held_by_external_id(scope, wanted)
    if rest := {row_id: keys for row_id, keys in wanted.items() if row_id not in owner}:
        owner.update(await _held_by_identities(scope, rest))
    matched: dict[int, tuple[int, list[int]]] = {}  # id(row) -> member, tag ids
    for row_id, member in owner.items():
        codes = plainly.tags[row_id]
        if all(code in tag_ids for code in codes):
            matched[row_id] = (member, [tag_ids[code] for code in codes])
    present = await _imported_tags(
        scope,
        sorted({m for m, tags in matched.values() if tags}),
        sorted({t for _, tags in matched.values() for t in tags}),
    )
    return {
        row_id
        for row_id, (member, tags) in matched.items()
        if all((member, tag) in present for tag in tags)
    }


async def _held_by_identities(
    scope: BrandScope, wanted: dict[int, list[tuple[str, str]]]
) -> dict[int, int]:
    """``id()`` of the rows whose identities (``wanted``, none empty) all
    belong to one member -> that member: one index probe per identity."""
    digests = pii.digests(scope.brand_id, {key for keys in wanted.values() for key in keys})
    owners = await identity_owners(scope, digests, digests)
    held: dict[int, int] = {}
    for row_id, keys in wanted.items():
        member = owners.get(keys[0])
        if member is not None and all(owners.get(key) == member for key in keys):
            held[row_id] = member
    return held


async def _held_by_external_id(
    scope: BrandScope, wanted: dict[int, list[tuple[str, str]]]
) -> dict[int, int]:
    """``id()`` of the rows with an external id whose member (the one with
    that ``external_id``) holds every identity of the row -> that member
    (:func:`members_holding`). The same rows :func:`_held_by_identities`
    finds among these (a blind index is one member's per brand and kind),
    for two index probes a row (the member, its identities) instead of one
    per identity, and the comparison made in the database.
    A row it does not recognise (an external id that moved to another
    member on a merge, say) is left to :func:`_held_by_identities`."""
    external = []
    for row_id, keys in wanted.items():
        value = next((v for kind, v in keys if kind == IdentityKind.EXTERNAL_ID.value), None)
        if value is not None:
            external.append((row_id, value, keys))
    found = await members_holding(scope, [(value, keys) for _, value, keys in external])
    return {external[n][0]: member for n, member in found.items()}


_PHONE_MARKS = str.maketrans("", "", " -().")
_KINDS = {kind.value: kind for kind in IdentityKind}
_PLAIN_COLUMNS = ("external_id", "phone", "email", "card_number")


class _Plain:
    """Identities of rows in the form they would be stored in, told cheaply
    (the recognition of rows already there): what is the same for every
    row of a batch (the region's calling code) worked out once."""

    def __init__(self, brand_id: int, region: str) -> None:
        self.brand_id = brand_id
        self.region = region
        self.code = phonenumbers.country_code_for_region(region)
        # The identity columns (column, kind) of rows with these columns: a
        # file's rows all have its header's.
        self.columns: tuple[frozenset[str], list[tuple[str, str]]] = (frozenset(), [])

    @staticmethod
    def kind(column: str) -> str | None:
        """The identity kind of a column, None for other columns."""
        if column in _PLAIN_COLUMNS:
            return column
        if column.startswith(IDENTITY_PREFIX):
            return column[len(IDENTITY_PREFIX) :]
        return None

    def keys(self, row: CsvRow) -> list[tuple[str, str]]:
        """The row's identities as they would be stored, when each can be
        told without the full check; [] when not (a value :meth:`value`
        cannot tell)."""
        if row.extra_cells > 0:
            return []
        values = row.values
        names, columns = self.columns
        if values.keys() != names:
            columns = [(c, kind) for c in values if (kind := self.kind(c))]
            self.columns = (frozenset(values), columns)
        keys: list[tuple[str, str]] = []
        for column, kind in columns:
            text = values[column]
            if not text.strip():
                continue
            value = self.value(kind, text)
            if value is None:
                return []
            keys.append((kind, value))
        return keys

    def value(self, kind: str, text: str) -> str | None:
        """``text`` as :func:`~tessera.members.identities.normalise` stores
        it, told cheaply, or None when that takes the full check. What this
        returns is only ever compared with stored values: a phone or address
        that is not valid cannot equal one. Phones: international digits as
        they are, or digits of the brand's region without a trunk prefix;
        addresses: ASCII, lower-cased (what email-validator makes of those)."""
        if kind == "phone":
            digits = text.strip().translate(_PHONE_MARKS)
            if digits.startswith("+") and digits[1:].isdigit():
                return digits
            if digits.isdigit() and not digits.startswith("0") and self.code:
                return f"+{self.code}{digits}"
            return None
        if kind == "email":
            address = text.strip()
            return address.lower() if address.isascii() and "@" in address else None
        identity_kind = _KINDS.get(kind)
        if identity_kind is None:
            return None
        try:
            return normalise(identity_kind, text, self.region, [])
        except DomainError:
            return None


async def _imported_tags(
    scope: BrandScope, member_ids: list[int], tag_ids: list[int]
) -> set[tuple[int, int]]:
    """(member id, tag id) of these members' tags put on by an import: one
    hand-written query on the assignments' unique key (brand, tag, member,
    source); the ORM's IN list of a batch's members was slower than the
    database answering it."""
    if not member_ids or not tag_ids:
        return set()
    table = TagAssignment._meta.db_table
    connection = connections.get("default")
    if connection.capabilities.dialect == "postgres":
        # One index probe per member (LATERAL), whatever the table's
        # statistics (see identity_owners).
        sql = (
            "SELECT m.id AS member_id, a.tag_id FROM unnest($3::bigint[]) AS m(id) "
            f'CROSS JOIN LATERAL (SELECT tag_id FROM "{table}" WHERE brand_id = $1 '
            "AND member_id = m.id AND tag_id = ANY($2::int[]) AND source = $4 OFFSET 0) AS a"
        )
        params: list[Any] = [scope.brand_id, tag_ids, member_ids, TagSource.IMPORT.value]
    else:
        sql = (
            f'SELECT member_id, tag_id FROM "{table}" WHERE brand_id = ? '
            "AND tag_id IN (SELECT value FROM json_each(?)) "
            "AND member_id IN (SELECT value FROM json_each(?)) AND source = ?"
        )
        params = [
            scope.brand_id,
            json.dumps(tag_ids),
            json.dumps(member_ids),
            TagSource.IMPORT.value,
        ]
    rows = await connection.execute_query_dict(sql, params)
    return {(int(r["member_id"]), int(r["tag_id"])) for r in rows}


def _reject(report: ImportReport, rejects: RejectsFile, row: CsvRow, reason: str) -> None:
    report.rejected += 1
    rejects.add(row.line, reason, row.values)


def _check(
    scope: BrandScope,
    row: CsvRow,
    tags: list[str],
    definitions: dict[str, AttributeDefinition],
    now: datetime,
    today: date,
) -> _Row:
    if row.extra_cells > 0:
        raise DomainError("INVALID", f"{row.extra_cells} cell(s) more than the header's columns")
    values = row.values
    errors: list[DomainError] = []

    def attempt(column: str, parse: Any) -> Any:
        text = values.get(column, "").strip()
        if not text:
            return None
        try:
            return parse(text, column)
        except DomainError as error:
            errors.append(error)
            return None

    profile: dict[str, Any] = {c: values[c] for c in PROFILE_COLUMNS if values.get(c, "").strip()}
    if "gender" in profile:
        profile["gender"] = profile["gender"].strip().lower()
    birthday = attempt("birthday", cell_date)
    if birthday is not None:
        profile["birthday"] = birthday
    if values.get("interests", "").strip():
        profile["interests"] = cell_list(values["interests"])
    joined_at = attempt("joined_at", lambda t, c: cell_time(t, c, scope.brand.timezone))
    if joined_at is not None and joined_at > now:
        errors.append(DomainError("INVALID", "joined_at must not be in the future", ["joined_at"]))
    identities = [
        (column[len(IDENTITY_PREFIX) :], values[column])
        for column in values
        if column.startswith(IDENTITY_PREFIX) and values[column].strip()
    ]
    attributes = {}
    for column, text in values.items():
        if column.startswith(ATTRIBUTE_PREFIX) and text.strip():
            key = column[len(ATTRIBUTE_PREFIX) :]
            value = attempt(column, lambda t, c, d=definitions[key]: _attribute(d, t, c))
            if value is not None:
                attributes[key] = value
    card = values.get("card_number", "").strip() or None
    if not identities and not card and not any(k in profile for k in IDENTITY_FIELDS):
        errors.append(
            DomainError(
                "IDENTITY_REQUIRED", "give an external_id, phone, email, card_number or identity.*"
            )
        )
    if errors:  # the service's checks would only repeat what is wrong already
        raise DomainErrors(errors)
    try:
        member, wanted = draft_member(
            scope, profile, definitions, today, identities, attributes, card
        )
    except DomainErrors as error:
        raise DomainErrors([_as_column(e, identities) for e in error.errors]) from None
    keys = [(kind.value, value) for kind, value, _ in wanted]
    # Each blind index once, here (a worker thread): the batch's lookups and
    # the insert of its identities reuse them. The sealing too, so the event
    # loop, which writes the batch before, has the least Python to run.
    digests = pii.digests(scope.brand_id, keys)
    sealed = pii.seals(scope.brand_id, scope.brand.identity_key_version, keys)
    return _Row(
        row,
        MemberDraft(
            member, [(kind, value) for kind, value, _ in wanted], joined_at, digests, sealed
        ),
        tags,
        keys,
    )


def _as_column(error: DomainError, identities: list[tuple[str, str]]) -> DomainError:
    """The service's field path as the file's column: ``identities.0.value``
    -> ``identity.wechat_openid``, ``attributes.size`` -> ``attr.size``."""
    path = list(error.field or [])
    if path[:1] == ["identities"] and len(path) > 1 and path[1].isdigit():
        path = [IDENTITY_PREFIX + identities[int(path[1])][0]]
    elif path[:1] == ["attributes"] and len(path) > 1:
        path = [ATTRIBUTE_PREFIX + path[1]]
    return DomainError(error.code, error.message, path or None)


def _attribute(definition: AttributeDefinition, text: str, column: str) -> Any:
    """A cell as the attribute's type; the members service checks the rest."""
    kind = attrs.AttributeType(definition.type)
    if kind is attrs.AttributeType.NUMBER:
        number = cell_decimal(text, column)
        return int(number) if number == number.to_integral_value() else float(number)
    if kind is attrs.AttributeType.BOOLEAN:
        return cell_bool(text, column)
    return text.strip()


def _unknown_tags(codes: list[str], tag_ids: dict[str, int]) -> str:
    unknown = [c for c in codes if c not in tag_ids]
    return f"tags: no tag {', '.join(unknown)}" if unknown else ""


async def _import_batch(
    scope: BrandScope,
    rows: list[_Row],
    tag_ids: dict[str, int],
    rejects: RejectsFile,
    report: ImportReport,
    now: datetime,
    tagging: asyncio.Future[None] | None = None,
) -> asyncio.Future[None]:
    """Match the batch's rows to existing members (one query), create the new
    ones together (:func:`create_members`), then tag them. Each step commits
    on its own: a batch killed between them is completed by the next run,
    which finds its members there and adds the tags they lack.

    ``tagging``, the batch before's tags, goes on while this batch is
    matched and created (other tables; on PostgreSQL another connection):
    it is awaited before this batch's tags are compared with those there,
    so a member of both batches is tagged as when one batch follows the
    other. Returns this batch's tags, going on."""
    digests = {key: d for row in rows for key, d in (row.draft.digests or {}).items()}
    owners: dict[tuple[str, str], int | _Row] = dict(await identity_owners(scope, digests, digests))
    # An old CRM's file must not bring back a person who asked to be erased:
    # only they can, by joining again (docs/privacy.md, "Erasure").
    erased = await erased_among(scope, (key for key in digests if key not in owners), digests)
    new: list[_Row] = []
    # Member (existing id, or the new row that creates it) -> tag codes of its rows.
    tagged: list[tuple[int | _Row, list[str]]] = []
    for row in rows:
        unknown = _unknown_tags(row.tags, tag_ids)
        if unknown:
            _reject(report, rejects, row.csv, unknown)
            continue
        if any(key in erased for key in row.keys):
            _reject(
                report,
                rejects,
                row.csv,
                "an identity of the row belonged to a member whose data was erased; "
                "the person must join again themselves",
            )
            continue
        matched = {_who(owners[key]): owners[key] for key in row.keys if key in owners}
        if len(matched) > 1:
            await _note_duplicates(scope, row, owners)
            _reject(
                report,
                rejects,
                row.csv,
                "the row's identities belong to different existing members",
            )
            continue
        if matched:
            member = next(iter(matched.values()))
            report.unchanged += 1
        else:
            member = row
            new.append(row)
            # A later row of this batch naming one of these identities is this member.
            for key in row.keys:
                owners[key] = row
        if row.tags:
            tagged.append((member, row.tags))
    created = await _create(scope, new, rejects, report, now)
    by_member: dict[int, list[str]] = {}
    for member, codes in tagged:
        member_id = created.get(id(member)) if isinstance(member, _Row) else member
        if member_id is not None:
            by_member.setdefault(member_id, []).extend(codes)
    if tagging is not None:
        await tagging
    return asyncio.ensure_future(_tag(scope, by_member, tag_ids, set(created.values())))


async def _note_duplicates(
    scope: BrandScope, row: _Row, owners: dict[tuple[str, str], int | _Row]
) -> None:
    """A row whose identities belong to different existing members says they
    may be one person: each pair becomes a duplicate candidate for review."""
    held = [(owner, key[0]) for key in row.keys if isinstance(owner := owners.get(key), int)]
    if not held:
        return
    first = held[0][0]
    for other, kind in held[1:]:
        if other != first:
            await duplicates.claim(scope, other, first, IdentityKind(kind), merge=False)


def _who(member: int | _Row) -> tuple[str, int]:
    return ("member", member) if isinstance(member, int) else ("row", id(member))


async def _create(
    scope: BrandScope, rows: list[_Row], rejects: RejectsFile, report: ImportReport, now: datetime
) -> dict[int, int]:
    """Create the rows' members; ``id(row)`` -> member id of those created."""
    try:
        ids = await create_members(scope, [r.draft for r in rows], imported=True, now=now)
    except DomainError:
        # Someone took one of the identities since the lookup: find out which
        # row it was, one by one, as a single createMember would.
        created = {}
        for row in rows:
            member_id = await _create_one(scope, row, rejects, report, now)
            if member_id is not None:
                created[id(row)] = member_id
        return created
    report.created += len(ids)
    return {id(row): member_id for row, member_id in zip(rows, ids, strict=True)}


async def _create_one(
    scope: BrandScope, row: _Row, rejects: RejectsFile, report: ImportReport, now: datetime
) -> int | None:
    try:
        [member_id] = await create_members(scope, [row.draft], imported=True, now=now)
    except DomainError as error:
        _reject(report, rejects, row.csv, reason_of(error))
        return None
    report.created += 1
    return member_id


async def _tag(
    scope: BrandScope, tagged: dict[int, list[str]], tag_ids: dict[str, int], new: set[int]
) -> None:
    """Put each listed tag on its members with source IMPORT, leaving
    assignments the import made before as they are (their expiry included).
    Members created by this batch (``new``) have none yet."""
    if not tagged:
        return
    present: set[tuple[int, int]] = set()
    if old := [member_id for member_id in tagged if member_id not in new]:
        present = await _imported_tags(scope, sorted(old), sorted(set(tag_ids.values())))
    by_code: dict[str, list[int]] = {}
    for member_id, codes in tagged.items():
        for code in dict.fromkeys(codes):
            if (member_id, tag_ids[code]) not in present:
                by_code.setdefault(code, []).append(member_id)
    # The batch's members were just read or created: no lookup again.
    await tag_known_members(scope, by_code, source=TagSource.IMPORT)
