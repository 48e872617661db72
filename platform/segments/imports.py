"""Static segments from an uploaded list of identities (CSV).

The file has a header line. Either two columns ``kind,value`` (``phone,
+8613800138000``), or one column named after an identity kind (``phone``,
``email``, ``external_id``, ``card_number``...) holding values of that kind.
Values are normalised as on writes. Rows that match no member of the brand
are reported with their line number and reason; the others are stored.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from tessera.errors import DomainError
from tessera.members.batch import identity_owners
from tessera.members.identities import IdentityKind, normalise
from tessera.scope import BrandScope
from tessera.segments.models import SegmentRefresh
from tessera.segments.service import SegmentKind, replace_members, require_segment

MAX_ROWS = 100_000
MAX_REPORTED = 1000


@dataclass(frozen=True)
class RejectedRow:
    line: int
    value: str
    reason: str


@dataclass
class ImportResult:
    rows: int = 0
    matched: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)
    rejected_count: int = 0
    refresh: SegmentRefresh | None = None


def parse_csv(text: str) -> list[tuple[int, str, str]]:
    """``(line, kind, value)`` per data row; a bad header is a DomainError."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in next(reader, [])]
    kinds = {k.value for k in IdentityKind}
    if header == ["kind", "value"]:
        fixed = None
    elif len(header) == 1 and header[0] in kinds:
        fixed = header[0]
    else:
        raise DomainError(
            "INVALID_CSV",
            "the first line is `kind,value` or one identity kind (e.g. `phone`)",
            ["csv"],
        )
    rows: list[tuple[int, str, str]] = []
    for line, record in enumerate(reader, start=2):
        if not any(cell.strip() for cell in record):
            continue
        if len(rows) == MAX_ROWS:
            raise DomainError("TOO_MANY", f"a list has at most {MAX_ROWS} rows", ["csv"])
        if fixed is not None:
            rows.append((line, fixed, record[0] if record else ""))
        else:
            rows.append((line, record[0].strip().lower(), record[1] if len(record) > 1 else ""))
    return rows


async def _resolve(
    scope: BrandScope, rows: Iterable[tuple[int, str, str]], result: ImportResult
) -> list[int]:
    wanted: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for line, kind_name, value in rows:
        try:
            kind = IdentityKind(kind_name)
        except ValueError:
            _reject(result, line, value, f"unknown identity kind {kind_name!r}")
            continue
        try:
            clean = normalise(kind, value, scope.brand.default_region, [])
        except DomainError as error:
            _reject(result, line, value, error.message)
            continue
        wanted.setdefault((kind.value, clean), []).append((line, value))
    found = await identity_owners(scope, wanted)
    for key, lines in wanted.items():
        if key not in found:
            for line, value in lines:
                _reject(result, line, value, "no member has it")
    return sorted(set(found.values()))


def _reject(result: ImportResult, line: int, value: str, reason: str) -> None:
    result.rejected_count += 1
    if len(result.rejected) < MAX_REPORTED:
        result.rejected.append(RejectedRow(line, value, reason))


async def import_list(
    scope: BrandScope,
    segment_id: int,
    csv_text: str,
    *,
    add: bool = False,
    now: datetime | None = None,
) -> ImportResult:
    """Make the static segment's list the members the CSV names (or add them
    with ``add``); unmatched rows are reported, not fatal."""
    segment = await require_segment(scope, segment_id, "segmentId")
    if segment.kind != SegmentKind.STATIC:
        raise DomainError(
            "DYNAMIC_SEGMENT", "members of a dynamic segment follow its rule", ["segmentId"]
        )
    rows = parse_csv(csv_text)
    result = ImportResult(rows=len(rows))
    member_ids = await _resolve(scope, rows, result)
    result.matched = result.rows - result.rejected_count
    result.refresh = await replace_members(scope, segment, member_ids, add=add, now=now)
    return result
