"""An import row whose identities belong to two existing members is rejected
as before, and the pair is listed as a duplicate candidate."""

from __future__ import annotations

import csv

from tessera.importing.csv_rows import CsvSource
from tessera.importing.members import check_header, import_members
from tessera.importing.rejects import RejectsFile
from tessera.members.attributes import definitions_by_key
from tessera.members.models import DuplicateCandidate
from tessera.members.service import create_member
from tessera.scope import BrandScope


async def test_a_row_naming_two_members_makes_them_a_candidate(brand_a, tmp_path):
    scope = BrandScope(brand_a)
    old = await create_member(scope, {"name": "Old CRM", "external_id": "crm-1"})
    app = await create_member(scope, {"name": "App", "phone": "13800138000"})
    path = tmp_path / "members.csv"
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([["external_id", "phone"], ["crm-1", "138 0013 8000"]])
    source = CsvSource(path)
    check_header(source.header, await definitions_by_key(scope))
    with RejectsFile(tmp_path / "rejects.csv", source.header) as rejects:
        report = await import_members(scope, source, rejects)
    assert report.rejected == 1
    [candidate] = await DuplicateCandidate.filter(brand_id=brand_a.id)
    assert (candidate.member_id, candidate.other_id, candidate.reason) == (
        old.id,
        app.id,
        "identity",
    )
    assert candidate.kind in ("phone", "external_id")  # the identity the second one holds
