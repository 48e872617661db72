"""Importing members: good rows go in through the members service, bad ones go
to the rejects file with their line and reason, and a re-run changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from import_files import read_rejects

from tessera.importing.csv_rows import CsvRow, CsvSource
from tessera.importing.members import check_header, import_members
from tessera.importing.rejects import RejectsFile
from tessera.members.attributes import (
    AttributeType,
    DefinitionValues,
    create_definition,
    definitions_by_key,
)
from tessera.members.models import Member, MemberIdentity
from tessera.members.service import create_member
from tessera.scope import BrandScope
from tessera.tags.models import TagAssignment
from tessera.tags.service import create_tag

HEADER = [
    "external_id", "name", "phone", "email", "gender", "birthday", "province", "city",
    "joined_at", "join_channel", "tags", "attr.shoe_size", "identity.wechat_openid",
]  # fmt: skip
ROWS = [
    ["c-1", "王小明", "138 0013 8000", "Wang@Example.com", "male", "1990-05-01", "广东", "深圳",
     "2021-03-04 10:00", "pos", "vip;old_crm", "42", "oWx-1"],
    ["c-2", "Alice Smith", "", "alice@example.com", "female", "", "", "", "2020-01-01", "app",
     "old_crm", "", ""],
    ["c-3", "Bad Phone", "12345", "", "", "", "", "", "", "", "", "", ""],
    ["c-4", "Bad gender and tag", "", "", "robot", "", "", "", "", "", "nope", "", ""],
    ["c-5", "Bad size", "", "", "", "", "", "", "", "", "", "forty", ""],
    ["", "No identity", "", "", "", "", "", "", "", "", "", "", ""],
    ["c-1", "Repeat of c-1", "", "", "", "", "", "", "", "", "old_crm", "", ""],
]  # fmt: skip


async def prepare(scope: BrandScope) -> None:
    await create_tag(scope, "vip", "VIP")
    await create_tag(scope, "old_crm", "From the old CRM")
    await create_definition(scope, "shoe_size", AttributeType.NUMBER, DefinitionValues())


async def run(scope: BrandScope, path, rejects_path, **options: Any):
    source = CsvSource(path)
    check_header(source.header, await definitions_by_key(scope))
    with RejectsFile(rejects_path, source.header) as rejects:
        return await import_members(scope, source, rejects, **options)


async def snapshot(scope: BrandScope) -> list[Any]:
    members = await scope.query(Member).order_by("id").values()
    identities = (
        await scope.query(MemberIdentity).order_by("id").values_list("member_id", "kind", "digest")
    )
    tags = (
        await scope.query(TagAssignment)
        .order_by("id")
        .values_list("member_id", "tag_id", "source", "expires_at")
    )
    return [members, identities, tags]


async def test_good_rows_go_in_and_bad_rows_are_rejected_with_line_and_reason(
    brand_a, brand_b, csv_file, tmp_path
):
    scope = BrandScope(brand_a)
    await prepare(scope)
    theirs = await create_member(BrandScope(brand_b), {"name": "B", "external_id": "c-2"})
    path = csv_file("members.csv", HEADER, ROWS)

    report = await run(scope, path, tmp_path / "rejects.csv")

    assert (report.rows, report.created, report.unchanged, report.rejected) == (7, 2, 1, 4)
    rejected = {row["line"]: row for row in read_rejects(tmp_path / "rejects.csv")}
    assert set(rejected) == {"4", "5", "6", "7"}
    assert rejected["4"]["reason"] == "phone: '12345' is not a valid phone number"
    assert rejected["4"]["name"] == "Bad Phone"  # the row itself, to fix and re-import
    # Every problem of a row at once, whichever step finds it.
    assert rejected["5"]["reason"] == "gender: unknown gender 'robot'; tags: no tag nope"
    assert "attr.shoe_size: 'forty' is not a number" in rejected["6"]["reason"]
    assert "IDENTITY_REQUIRED" not in rejected["7"]["reason"]
    assert "give an external_id" in rejected["7"]["reason"]

    wang = await scope.query(Member).get(external_id="c-1")
    assert (wang.name, wang.phone, wang.email) == ("王小明", "+8613800138000", "wang@example.com")
    assert wang.joined_at == datetime(2021, 3, 4, 2, 0, tzinfo=UTC)  # read in Asia/Shanghai
    assert wang.attributes == {"shoe_size": 42}
    assert wang.status == "active" and wang.card_number
    kinds = {(i.kind, i.value) for i in await scope.query(MemberIdentity).filter(member_id=wang.id)}
    assert ("wechat_openid", "oWx-1") in kinds
    assigned = await scope.query(TagAssignment).filter(member_id=wang.id).select_related("tag")
    assert sorted((a.tag.code, a.source) for a in assigned) == [
        ("old_crm", "import"),
        ("vip", "import"),
    ]
    # The other brand's member with the same external id is another person.
    assert await BrandScope(brand_b).query(Member).filter(id=theirs.id).count() == 1
    assert await scope.query(Member).filter(external_id="c-2").count() == 1
    assert not await BrandScope(brand_b).query(TagAssignment).exists()


async def test_reimporting_the_same_file_changes_nothing(brand_a, csv_file, tmp_path):
    scope = BrandScope(brand_a)
    await prepare(scope)
    path = csv_file("members.csv", HEADER, ROWS)
    await run(scope, path, tmp_path / "first.csv")
    before = await snapshot(scope)

    again = await run(scope, path, tmp_path / "second.csv")

    assert (again.created, again.unchanged, again.rejected) == (0, 3, 4)
    assert await snapshot(scope) == before


async def test_a_matched_member_gets_only_the_tags_it_lacks(brand_a, csv_file, tmp_path):
    scope = BrandScope(brand_a)
    await prepare(scope)
    await run(scope, csv_file("a.csv", ["external_id", "tags"], [["c-9", "vip"]]), tmp_path / "r")
    path = csv_file("b.csv", ["external_id", "tags"], [["c-9", "vip;old_crm"]])

    report = await run(scope, path, tmp_path / "r2")

    assert (report.created, report.unchanged) == (0, 1)
    codes = await scope.query(TagAssignment).values_list("tag__code", flat=True)
    assert sorted(codes) == ["old_crm", "vip"]


async def test_the_importer_reads_rows_lazily_in_batches(brand_a, tmp_path):
    scope = BrandScope(brand_a)
    await create_member(scope, {"name": "Known", "external_id": "known"})
    produced = 0
    read_ahead: list[int] = []

    def rows() -> Iterator[CsvRow]:
        nonlocal produced
        for line in range(2, 50_002):
            produced += 1
            yield CsvRow(line, {"external_id": "known", "name": "Known"})

    def progress(done: int) -> None:
        read_ahead.append(produced - done)

    with RejectsFile(tmp_path / "r.csv", ["external_id", "name"]) as rejects:
        report = await import_members(scope, rows(), rejects, batch_size=1000, progress=progress)

    assert (report.rows, report.unchanged, report.rejected) == (50_000, 50_000, 0)
    assert len(read_ahead) == 50
    # Never more than one batch read beyond what has been imported.
    assert max(read_ahead) <= 1000
    assert not (tmp_path / "r.csv").exists()  # no refused row, no rejects file


def test_the_csv_source_reads_the_file_as_it_is_consumed(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("external_id,name\n" + "".join(f"m-{i},Name {i}\n" for i in range(50_000)))
    source = CsvSource(path)
    rows = iter(source)

    first = next(rows)

    assert (first.line, first.values) == (2, {"external_id": "m-0", "name": "Name 0"})
    assert source.bytes_read < 64 * 1024 < source.size
    assert sum(1 for _ in rows) == 49_999
    assert source.bytes_read == source.size


async def test_a_row_naming_two_members_is_rejected_though_each_identity_is_known(
    brand_a, csv_file, tmp_path
):
    # The already-there look-up must not take such a row for either member.
    scope = BrandScope(brand_a)
    await prepare(scope)
    await create_member(scope, {"name": "A", "external_id": "k-1", "phone": "13800138001"})
    await create_member(scope, {"name": "B", "external_id": "k-2", "phone": "13800138002"})
    path = csv_file(
        "m.csv",
        ["external_id", "phone", "tags"],
        [["k-1", "138 0013 8002", ""], ["k-2", "+8613800138002", ""], ["k-1", "013800138001", ""]],
    )

    report = await run(scope, path, tmp_path / "r.csv")

    # Line 4's trunk prefix is left to the full check, which reads it as A's.
    assert (report.created, report.unchanged, report.rejected) == (0, 2, 1)
    reasons = {row["line"]: row["reason"] for row in read_rejects(tmp_path / "r.csv")}
    assert list(reasons) == ["2"] and "different existing members" in reasons["2"]
