"""``tessera import members``: an old CRM's members, through the members and
tags services, so every imported member is exactly one the API could have
created (identities normalised, card numbers issued, attributes checked).

A row is matched to an existing member by any of its identities (external
id, phone, email, card number, ``identity.<kind>`` columns); a matched row
changes nothing but the ``tags`` it lists that the member lacks, so
re-importing a file changes nothing. Rows are read and checked in batches:
one query finds the batch's existing members, one the batch's tags.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tortoise.expressions import Q

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
from tessera.members.identities import IdentityKind, normalise
from tessera.members.models import AttributeDefinition, MemberIdentity
from tessera.members.profile import TEXT_FIELDS
from tessera.members.service import create_member
from tessera.scope import BrandScope
from tessera.tags.models import TagAssignment
from tessera.tags.service import TagSource, tag_ids_by_code, tag_members

BATCH_SIZE = 500
PROFILE_COLUMNS = (*TEXT_FIELDS, "phone", "email", "external_id", "gender", "join_channel")
OTHER_COLUMNS = ("birthday", "interests", "joined_at", "card_number", "tags")
ATTRIBUTE_PREFIX = "attr."
IDENTITY_PREFIX = "identity."


@dataclass
class _Row:
    """A checked row: what to hand to ``create_member``, and how to find it."""

    csv: CsvRow
    profile: dict[str, Any]
    identities: list[tuple[str, str]]
    attributes: dict[str, Any]
    card_number: str | None
    joined_at: datetime | None
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
    definitions = await attrs.definitions_by_key(scope)
    report = ImportReport()
    for batch in batches(rows, batch_size):
        report.rows += len(batch)
        checked: list[_Row] = []
        for row in batch:
            try:
                checked.append(_check(scope, row, definitions, now))
            except DomainError as error:
                _reject(report, rejects, row, reason_of(error))
        await _import_batch(scope, checked, rejects, report)
        rejects.flush()
        if progress is not None:
            progress(report.rows)
    return report


def _reject(report: ImportReport, rejects: RejectsFile, row: CsvRow, reason: str) -> None:
    report.rejected += 1
    rejects.add(row.line, reason, row.values)


def _check(
    scope: BrandScope, row: CsvRow, definitions: dict[str, AttributeDefinition], now: datetime
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
    checked = _Row(
        row, profile, identities, attributes, card, joined_at, cell_list(values.get("tags", ""))
    )
    try:
        checked.keys = _identity_keys(scope, checked)
    except DomainError as error:
        errors.append(error)
    if errors:
        raise DomainErrors(errors)
    return checked


def _attribute(definition: AttributeDefinition, text: str, column: str) -> Any:
    """A cell as the attribute's type; the members service checks the rest."""
    kind = attrs.AttributeType(definition.type)
    if kind is attrs.AttributeType.NUMBER:
        number = cell_decimal(text, column)
        return int(number) if number == number.to_integral_value() else float(number)
    if kind is attrs.AttributeType.BOOLEAN:
        return cell_bool(text, column)
    return text.strip()


def _identity_keys(scope: BrandScope, row: _Row) -> list[tuple[str, str]]:
    """Every identity the row names, normalised as the members service stores it."""
    region = scope.brand.default_region
    wanted: list[tuple[IdentityKind, str, str]] = [
        (IdentityKind(name), row.profile[name], name)
        for name in ("external_id", "phone", "email")
        if name in row.profile
    ]
    if row.card_number:
        wanted.append((IdentityKind.CARD_NUMBER, row.card_number, "card_number"))
    for kind, value in row.identities:
        wanted.append((IdentityKind(kind), value, IDENTITY_PREFIX + kind))
    keys, errors = [], []
    for kind, value, column in wanted:
        try:
            keys.append((kind.value, normalise(kind, value, region, [column])))
        except DomainError as error:
            errors.append(error)
    if errors:
        raise DomainErrors(errors)
    if not keys:
        raise DomainError(
            "IDENTITY_REQUIRED", "give an external_id, phone, email, card_number or identity.*"
        )
    return keys


async def _owners(scope: BrandScope, rows: list[_Row]) -> dict[tuple[str, str], int]:
    """Which existing member holds each identity the batch names: one query."""
    by_kind: dict[str, set[str]] = {}
    for row in rows:
        for kind, value in row.keys:
            by_kind.setdefault(kind, set()).add(value)
    if not by_kind:
        return {}
    condition = Q()
    for kind, values in by_kind.items():
        condition |= Q(kind=kind, value__in=sorted(values))
    found = (
        await scope.query(MemberIdentity)
        .filter(condition)
        .values_list("kind", "value", "member_id")
    )
    return {(kind, value): member_id for kind, value, member_id in found}


async def _import_batch(
    scope: BrandScope, rows: list[_Row], rejects: RejectsFile, report: ImportReport
) -> None:
    tag_ids = await tag_ids_by_code(scope, {code for row in rows for code in row.tags})
    owners = await _owners(scope, rows)
    tagged: dict[int, list[str]] = {}  # member id -> tag codes the row lists
    for row in rows:
        unknown = [code for code in row.tags if code not in tag_ids]
        if unknown:
            _reject(report, rejects, row.csv, f"tags: no tag {', '.join(unknown)}")
            continue
        matched = {owners[key] for key in row.keys if key in owners}
        if len(matched) > 1:
            _reject(
                report,
                rejects,
                row.csv,
                "the row's identities belong to different existing members",
            )
            continue
        if matched:
            member_id = matched.pop()
            report.unchanged += 1
        else:
            try:
                member = await create_member(
                    scope,
                    row.profile,
                    identities=row.identities,
                    attributes=row.attributes,
                    card_number=row.card_number,
                    joined_at=row.joined_at,
                    imported=True,
                )
            except DomainError as error:
                _reject(report, rejects, row.csv, reason_of(error))
                continue
            member_id = member.id
            report.created += 1
            # A later row of this batch naming one of these identities is this member.
            for key in row.keys:
                owners[key] = member_id
        if row.tags:
            tagged.setdefault(member_id, []).extend(row.tags)
    await _tag(scope, tagged, tag_ids)


async def _tag(scope: BrandScope, tagged: dict[int, list[str]], tag_ids: dict[str, int]) -> None:
    """Put each listed tag on its members with source IMPORT, leaving
    assignments the import made before as they are (their expiry included)."""
    if not tagged:
        return
    present = set(
        await scope.query(TagAssignment)
        .filter(member_id__in=list(tagged), source=TagSource.IMPORT.value)
        .values_list("member_id", "tag_id")
    )
    by_code: dict[str, list[int]] = {}
    for member_id, codes in tagged.items():
        for code in dict.fromkeys(codes):
            if (member_id, tag_ids[code]) not in present:
                by_code.setdefault(code, []).append(member_id)
    for code, member_ids in sorted(by_code.items()):
        await tag_members(scope, [code], member_ids=member_ids, source=TagSource.IMPORT)
