"""A re-run recognises the rows already there by their external id
(tessera.importing.members._held_by_external_id) exactly as by their
identities' owners, the way it did before: on random files over members
whose identities moved, who were erased or merged, with rows with and
without external ids, changed phones and tags (hypothesis, both
databases). The same rows are skipped, and the import leaves the same
report, rejects and data as with the identities' owners alone."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path
from typing import Any
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st
from import_files import read_rejects

from tessera.errors import DomainError
from tessera.importing import members as importing
from tessera.importing.csv_rows import CsvSource, batches
from tessera.importing.members import check_header, import_members
from tessera.importing.rejects import RejectsFile
from tessera.importing.report import ImportReport
from tessera.members.attributes import definitions_by_key
from tessera.members.merge import merge_members
from tessera.members.models import Member, MemberIdentity
from tessera.privacy.erasure import ErasureReason, erase_member
from tessera.scope import BrandScope
from tessera.tags.models import TagAssignment
from tessera.tags.service import create_tag, tag_ids_by_code
from tessera.testing import make_brand, record_database

MEMBERS = 5
HEADER = ["external_id", "name", "phone", "email", "tags", "identity.wechat_openid"]
TAGS = ["", "old", "old;vip", "vip", "nope"]

# What happens to member i after the first import (j: the next member).
changes = st.lists(
    st.sampled_from(["none", "move_openid", "move_phone", "erase", "merge", "ext_to_other"]),
    min_size=MEMBERS,
    max_size=MEMBERS,
)
# A row of the second file: member index (MEMBERS: someone new), whether it
# has its external id, its phone, email, tags and openid variants.
rows = st.lists(
    st.tuples(
        st.integers(0, MEMBERS),
        st.booleans(),
        st.sampled_from(["same", "other", "new", "empty", "trunk"]),
        st.sampled_from(["same", "empty", "upper"]),
        st.sampled_from(TAGS),
        st.sampled_from(["same", "empty", "other"]),
    ),
    min_size=1,
    max_size=14,
)

brand_numbers = itertools.count()


def base_row(i: int) -> list[str]:
    return [f"m-{i}", f"M{i}", f"139{i:08d}", f"m{i}@example.com", TAGS[1 + i % 3], f"open-{i}"]


def second_row(n: int, drawn: tuple[Any, ...]) -> list[str]:
    who, with_external_id, phone, email, tags, openid = drawn
    other = (who + 1) % MEMBERS
    return [
        f"m-{who}" if with_external_id else "",
        f"M{who}" if who < MEMBERS else f"N{n}",
        {"same": f"139{who:08d}", "other": f"139{other:08d}", "new": f"137{n:08d}",
         "empty": "", "trunk": f"0139{who:08d}"}[phone],
        {"same": f"m{who}@example.com", "empty": "", "upper": f"M{who}@Example.com"}[email],
        tags,
        {"same": f"open-{who}", "empty": "", "other": f"open-{other}"}[openid],
    ]  # fmt: skip


def write(path: Path, table: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(HEADER)
        out.writerows(table)
    return path


async def run(scope: BrandScope, path: Path, rejects: Path) -> ImportReport:
    source = CsvSource(path)
    check_header(source.header, await definitions_by_key(scope))
    with RejectsFile(rejects, source.header) as refused:
        return await import_members(scope, source, refused, batch_size=6)


async def by_identities_only(scope: BrandScope, wanted: Any) -> dict[int, int]:
    """The recognition before: no look-up by external id."""
    return {}


async def brand_with_history(path: Path, done: list[str]) -> BrandScope:
    """A brand that imported the first file, then changed as ``done`` says."""
    scope = BrandScope(await make_brand(f"ri-{next(brand_numbers)}"))
    await create_tag(scope, "old", "Old CRM")
    await create_tag(scope, "vip", "VIP")
    await run(scope, path, path.with_suffix(".rejects.csv"))
    ids = {m.external_id: m.id for m in await scope.query(Member).all()}
    for i, change in enumerate(done):
        member, other = ids[f"m-{i}"], ids[f"m-{(i + 1) % MEMBERS}"]
        try:
            if change in ("move_openid", "move_phone"):
                kind = "wechat_openid" if change == "move_openid" else "phone"
                await (
                    scope.query(MemberIdentity)
                    .filter(member_id=member, kind=kind)
                    .update(member_id=other)
                )
            elif change == "ext_to_other":
                # The external id identity held by another member, the
                # member's column left as it was (as a merge leaves it).
                await (
                    scope.query(MemberIdentity)
                    .filter(member_id=member, kind="external_id")
                    .update(member_id=other)
                )
            elif change == "erase":
                await erase_member(scope, member, ErasureReason.MEMBER_REQUEST)
            elif change == "merge":
                await merge_members(scope, other, member, idempotency_key=f"merge-{i}")
        except DomainError:
            pass  # a member erased or merged already
    return scope


def rejected(path: Path) -> list[dict[str, str]]:
    return read_rejects(path) if path.exists() else []


async def state_of(scope: BrandScope) -> list[Any]:
    names = {m.id: m.name for m in await scope.query(Member).all()}
    return [
        sorted((m.name, m.external_id or "", m.status) for m in await scope.query(Member).all()),
        sorted(
            (names[i.member_id], i.kind, i.value)
            for i in await scope.query(MemberIdentity).all()
            if i.kind != "card_number"
        ),
        sorted(
            (names[member_id], code, source)
            for member_id, code, source in await scope.query(TagAssignment).values_list(
                "member_id", "tag__code", "source"
            )
        ),
    ]


@settings(settings.get_profile("database-examples"), max_examples=20)
@given(done=changes, drawn=rows)
def test_recognising_by_external_id_is_recognising_by_identities(
    session_loop, tessera_db, tmp_path_factory, done, drawn
):
    async def check() -> None:
        folder = tmp_path_factory.mktemp("reimport")
        first = write(folder / "first.csv", [base_row(i) for i in range(MEMBERS)])
        again = write(folder / "again.csv", [second_row(n, d) for n, d in enumerate(drawn)])
        new = await brand_with_history(first, done)
        old = await brand_with_history(first, done)

        # The rows skipped, batch by batch, before anything is imported.
        plain = importing._Plain(new.brand_id, new.brand.default_region)
        source = CsvSource(again)
        for batch in batches(source, 6):
            plainly = importing._plainly(plain, batch, keys=True)
            tag_ids = await tag_ids_by_code(
                new, {code for codes in plainly.tags.values() for code in codes}
            )
            by_external_id = await importing._already_there(new, plainly, tag_ids)
            with mock.patch.object(importing, "_held_by_external_id", by_identities_only):
                by_identities = await importing._already_there(new, plainly, tag_ids)
            lines = {id(row): row.line for row in batch}
            assert sorted(lines[r] for r in by_external_id) == sorted(
                lines[r] for r in by_identities
            )
        source.close()

        report = await run(new, again, folder / "new.csv")
        with mock.patch.object(importing, "_held_by_external_id", by_identities_only):
            before = await run(old, again, folder / "old.csv")
        assert report == before
        assert rejected(folder / "new.csv") == rejected(folder / "old.csv")
        assert await state_of(new) == await state_of(old)

    session_loop.run_until_complete(check())


async def test_a_file_of_external_ids_is_recognised_in_three_queries_a_batch(tessera_db, tmp_path):
    scope = BrandScope(await make_brand("ri-trips"))
    await create_tag(scope, "old", "Old CRM")
    await create_tag(scope, "vip", "VIP")
    many = write(
        tmp_path / "many.csv",
        [[f"x-{i}", f"X{i}", f"138{i:08d}", "", "old", ""] for i in range(20)],
    )
    await run(scope, many, tmp_path / "r.csv")
    trips = {}
    for size in (5, 10):
        source = CsvSource(many)
        async with record_database() as log:
            with RejectsFile(tmp_path / "r.csv", source.header) as refused:
                report = await import_members(scope, source, refused, batch_size=size)
        assert (report.created, report.unchanged) == (0, 20)
        trips[size] = len(log.round_trips)
    # The batch's tags, its members by external id, their import tags: the
    # identities' owners are not asked.
    assert trips[5] - trips[10] == 2 * 3
