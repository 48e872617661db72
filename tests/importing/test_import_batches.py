"""Imports in batches: the batch size changes nothing, a run stopped half-way
(killed, or failing at a batch) is completed by running it again with every
row exactly once, a re-run recognises the rows already there in a bounded
number of queries per batch, and the file is read no further ahead than one
batch."""

from __future__ import annotations

import asyncio
import csv
import signal
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from import_files import read_rejects
from tortoise import connections

from tessera.errors import DomainError
from tessera.importing.csv_rows import CsvRow, CsvSource
from tessera.importing.members import check_header as check_members
from tessera.importing.members import import_members
from tessera.importing.orders import check_header as check_orders
from tessera.importing.orders import import_orders
from tessera.importing.rejects import RejectsFile
from tessera.importing.report import ImportReport
from tessera.members import pii
from tessera.members.attributes import (
    AttributeType,
    DefinitionValues,
    create_definition,
    definitions_by_key,
)
from tessera.members.batch import MemberDraft, create_members
from tessera.members.models import Member, MemberIdentity
from tessera.members.service import create_member, draft_member
from tessera.orders.models import MemberStats, Order, OrderLine
from tessera.orders.stats import rebuild_stats
from tessera.scope import BrandScope
from tessera.tags.models import TagAssignment
from tessera.tags.service import create_tag
from tessera.testing import TESSERA_CLI, cli_environment, record_database

NOW = datetime(2025, 6, 1, tzinfo=UTC)
MEMBER_HEADER = ["external_id", "name", "phone", "email", "joined_at", "tags", "attr.size",
                 "identity.wechat_openid"]  # fmt: skip
ORDER_HEADER = ["external_id", "member_external_id", "occurred_at", "amount_paid", "sku",
                "quantity", "unit_price"]  # fmt: skip


def member_rows(count: int) -> list[list[str]]:
    """Members with phones, emails, tags and an attribute; every 7th row is
    rejected (a bad phone), every 11th names the member of 3 rows before by
    its openid (the same member: already there, or created earlier in the
    file, perhaps in an earlier batch)."""
    rows = []
    for i in range(count):
        phone = "12345" if i % 7 == 3 else f"139{i:08d}"
        if i % 11 == 10:
            rows.append(["", "", "", "", "", "vip", "", f"open-{i - 3}"])
            continue
        rows.append([f"m-{i}", f"Member {i}", phone, f"M{i}@Example.com", "2021-03-04T10:00:00+08:00",
                     "old" if i % 2 else "old;vip", str(30 + i % 15), f"open-{i}"])  # fmt: skip
    return rows


def order_rows(count: int, members: int, *, refused: bool = True) -> list[list[str]]:
    """Orders of two lines each; every 9th names nobody (rejected, both rows)."""
    rows = []
    for i in range(count):
        member = "nobody" if refused and i % 9 == 4 else f"m-{i % members}"
        for sku in ("A", "B"):
            rows.append([f"o-{i}", member, f"2024-01-01T10:{i % 60:02d}:00+08:00", "30.00",
                         sku, "1", "15.00"])  # fmt: skip
    return rows


def write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(header)
        out.writerows(rows)
    return path


async def prepare(scope: BrandScope) -> None:
    await create_tag(scope, "old", "Old CRM")
    await create_tag(scope, "vip", "VIP")
    await create_definition(scope, "size", AttributeType.NUMBER, DefinitionValues())


async def run_members(scope: BrandScope, path: Path, rejects: Path, **options: Any) -> ImportReport:
    source = CsvSource(path)
    check_members(source.header, await definitions_by_key(scope))
    with RejectsFile(rejects, source.header) as refused:
        return await import_members(scope, source, refused, now=NOW, **options)


async def run_orders(scope: BrandScope, path: Path, rejects: Path, **options: Any) -> ImportReport:
    source = CsvSource(path)
    check_orders(source.header)
    with RejectsFile(rejects, source.header) as refused:
        return await import_orders(scope, source, refused, now=NOW, **options)


async def members_as_data(scope: BrandScope) -> list[Any]:
    """The brand's members, identities and tags with ids told by external id
    (another brand's import numbers rows differently, and its card numbers
    have another prefix)."""
    members = await scope.query(Member).order_by("external_id").values()
    by_id = {m["id"]: m["external_id"] for m in members}
    for m in members:
        assert m["card_number"]
        for column in ("phone", "email"):  # sealed with a fresh nonce each
            m[column] = pii.reveal_column(m["brand_id"], column, m.pop(f"{column}_sealed"))
        for column in ("id", "brand_id", "created_at", "updated_at", "card_number"):
            del m[column]
    identities = sorted(
        (by_id[i.member_id], i.kind, "(card)" if i.kind == "card_number" else i.value)
        for i in await scope.query(MemberIdentity)
    )
    tags = sorted(
        (by_id[member_id], code, source)
        for member_id, code, source in await scope.query(TagAssignment).values_list(
            "member_id", "tag__code", "source"
        )
    )
    return [members, identities, tags]


async def orders_as_data(scope: BrandScope) -> list[Any]:
    external = dict(await scope.query(Member).values_list("id", "external_id"))
    orders = await scope.query(Order).order_by("external_id").values()
    by_id = {o["id"]: o["external_id"] for o in orders}
    for o in orders:
        o["member_id"] = external[o["member_id"]]
        for column in ("id", "brand_id", "created_at"):
            del o[column]
    lines = sorted(
        (by_id[order_id], line_no, sku, paid)
        for order_id, line_no, sku, paid in await scope.query(OrderLine).values_list(
            "order_id", "line_no", "sku", "paid_amount"
        )
    )
    stats = sorted(
        (external[member_id], count, spent)
        for member_id, count, spent in await scope.query(MemberStats).values_list(
            "member_id", "orders_count", "gross_spent"
        )
    )
    return [orders, lines, stats]


async def test_members_in_many_batches_are_the_members_of_one_batch(brand_a, brand_b, tmp_path):
    path = write(tmp_path / "m.csv", MEMBER_HEADER, member_rows(60))
    small, whole = BrandScope(brand_a), BrandScope(brand_b)
    for scope in (small, whole):
        await prepare(scope)

    chunked = await run_members(small, path, tmp_path / "small.csv", batch_size=4)
    single = await run_members(whole, path, tmp_path / "whole.csv", batch_size=1000)

    assert (chunked.rows, chunked.created, chunked.unchanged, chunked.rejected) == (
        single.rows, single.created, single.unchanged, single.rejected,
    ) == (60, 47, 5, 8)  # fmt: skip
    assert await members_as_data(small) == await members_as_data(whole)
    assert read_rejects(tmp_path / "small.csv") == read_rejects(tmp_path / "whole.csv")


async def test_a_member_of_consecutive_batches_is_tagged_once(brand_a, tmp_path, record_events):
    """A batch's tags go on while the next batch is written: the next batch's
    rows of the same member still find them there, as when one batch
    follows the other (no second assignment, no new expiry, no second
    ``tags.changed``)."""
    scope = BrandScope(brand_a)
    log = await record_events(brand_a)
    await create_tag(scope, "vip", "VIP", default_expiry_days=30)
    rows = [["m-1", "vip"]] * 3 + [["m-2", "vip"]]
    path = write(tmp_path / "m.csv", ["external_id", "tags"], rows)

    report = await run_members(scope, path, tmp_path / "r.csv", batch_size=1)
    expiries = scope.query(TagAssignment).order_by("member_id").values_list("expires_at", flat=True)
    first = await expiries
    await run_members(scope, path, tmp_path / "r2.csv", batch_size=1)

    assert (report.created, report.unchanged, report.rejected) == (2, 2, 0)
    assert len(first) == 2
    assert await expiries == first
    assert [e.payload["member_ids"] for e in log.named("tags.changed")] == [
        [m] for m in await scope.query(Member).order_by("id").values_list("id", flat=True)
    ]


async def test_orders_in_many_batches_are_the_orders_of_one_batch(brand_a, brand_b, tmp_path):
    members = write(tmp_path / "m.csv", MEMBER_HEADER, member_rows(20))
    orders = write(tmp_path / "o.csv", ORDER_HEADER, order_rows(40, 20))
    small, whole = BrandScope(brand_a), BrandScope(brand_b)
    for scope in (small, whole):
        await prepare(scope)
        await run_members(scope, members, tmp_path / "mr.csv")

    chunked = await run_orders(small, orders, tmp_path / "small.csv", batch_size=3)
    single = await run_orders(whole, orders, tmp_path / "whole.csv", batch_size=1000)

    assert (chunked.rows, chunked.created, chunked.rejected) == (
        single.rows, single.created, single.rejected,
    ) == (80, 30, 20)  # fmt: skip
    assert await orders_as_data(small) == await orders_as_data(whole)
    assert read_rejects(tmp_path / "small.csv") == read_rejects(tmp_path / "whole.csv")


async def analyses(tables: tuple[str, ...]) -> dict[str, int]:
    rows = await connections.get("default").execute_query_dict(
        "SELECT relname, analyze_count FROM pg_stat_user_tables"
    )
    return {r["relname"]: r["analyze_count"] for r in rows if r["relname"] in tables}


@pytest.mark.postgres_only
async def test_an_import_has_the_tables_it_fills_analysed_as_they_grow(brand_a, tmp_path):
    """After its 1st and 4th batch (the planner would otherwise take a table
    just filled for empty and plan look-ups on it as such)."""
    scope = BrandScope(brand_a)
    await prepare(scope)
    filled = {
        "members": ("member", "member_identity", "person_identity", "tag_assignment"),
        "orders": ("sales_order", "order_line", "member_stats"),
    }
    before = await analyses(filled["members"])
    await run_members(scope, write(tmp_path / "m.csv", MEMBER_HEADER, member_rows(20)),
                      tmp_path / "mr.csv", batch_size=4)  # fmt: skip
    after = await analyses(filled["members"])
    # Autovacuum may analyse a table too; never less than the import's two.
    assert all(after[t] - before.get(t, 0) >= 2 for t in filled["members"]), (before, after)

    before = await analyses(filled["orders"])
    await run_orders(scope, write(tmp_path / "o.csv", ORDER_HEADER, order_rows(12, 20)),
                     tmp_path / "or.csv", batch_size=3)  # fmt: skip
    after = await analyses(filled["orders"])
    assert all(after[t] - before.get(t, 0) >= 2 for t in filled["orders"]), (before, after)


class Stop(Exception):
    """Stands for a crash after some batches went in."""


def stop_after(batches: int) -> Any:
    seen = []

    def progress(rows: int) -> None:
        seen.append(rows)
        if len(seen) == batches:
            raise Stop

    return progress


async def test_a_members_import_stopped_at_a_batch_is_completed_by_running_it_again(
    brand_a, brand_b, tmp_path
):
    path = write(tmp_path / "m.csv", MEMBER_HEADER, member_rows(60))
    stopped, whole = BrandScope(brand_a), BrandScope(brand_b)
    for scope in (stopped, whole):
        await prepare(scope)
    await run_members(whole, path, tmp_path / "whole.csv")

    with pytest.raises(Stop):
        await run_members(stopped, path, tmp_path / "r1.csv", batch_size=8, progress=stop_after(3))
    assert await stopped.query(Member).count() == 20  # three batches went in, no more
    again = await run_members(stopped, path, tmp_path / "r2.csv", batch_size=8)

    assert (again.created, again.rejected) == (47 - 20, 8)
    assert await members_as_data(stopped) == await members_as_data(whole)


async def test_an_orders_import_stopped_at_a_batch_is_completed_by_running_it_again(
    brand_a, brand_b, tmp_path
):
    members = write(tmp_path / "m.csv", MEMBER_HEADER, member_rows(20))
    orders = write(tmp_path / "o.csv", ORDER_HEADER, order_rows(40, 20))
    stopped, whole = BrandScope(brand_a), BrandScope(brand_b)
    for scope in (stopped, whole):
        await prepare(scope)
        await run_members(scope, members, tmp_path / "mr.csv")
    await run_orders(whole, orders, tmp_path / "whole.csv")

    with pytest.raises(Stop):
        await run_orders(stopped, orders, tmp_path / "r1.csv", batch_size=5, progress=stop_after(2))
    first = await stopped.query(Order).count()
    again = await run_orders(stopped, orders, tmp_path / "r2.csv", batch_size=5)

    assert (first, again.unchanged, again.created) == (8, 8, 30 - 8)
    assert await orders_as_data(stopped) == await orders_as_data(whole)
    counted = await orders_as_data(stopped)
    await rebuild_stats(stopped)
    assert await orders_as_data(stopped) == counted


async def test_a_killed_import_process_run_again_imports_every_row_once(
    brand_a, tessera_database_url, tmp_path
):
    scope = BrandScope(brand_a)
    await prepare(scope)
    rows = [[f"k-{i}", f"Member {i}", f"139{i:08d}", "", "", "vip", "", ""] for i in range(20_000)]
    path = write(tmp_path / "big.csv", MEMBER_HEADER, rows)
    env = cli_environment(tessera_database_url, tmp_path)
    command = [str(TESSERA_CLI), "import", "members", str(path), "--brand", "brand-a",
               "--batch-size", "100"]  # fmt: skip
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        while await scope.query(Member).count() == 0:  # the first batch has committed
            assert process.poll() is None, process.communicate()
            await asyncio.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.communicate()
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL
    stopped_at = await scope.query(Member).count()
    assert 0 < stopped_at < 20_000  # killed half-way

    again = await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, text=True, timeout=300
    )

    assert again.returncode == 0, again.stderr
    assert f"20000 row(s): {20_000 - stopped_at} member(s) created, {stopped_at}" in again.stdout
    assert await scope.query(Member).count() == 20_000
    assert await scope.query(MemberIdentity).filter(kind="external_id").count() == 20_000
    assert await scope.query(TagAssignment).count() == 20_000  # tags of the killed batch too


async def test_reimporting_a_whole_file_is_a_few_queries_per_batch(brand_a, tmp_path):
    scope = BrandScope(brand_a)
    await prepare(scope)
    members = write(tmp_path / "m.csv", MEMBER_HEADER, member_rows(200))
    # Every order goes in (a refused one is tried again on each run).
    orders = write(tmp_path / "o.csv", ORDER_HEADER, order_rows(100, 3, refused=False))
    first_members = await run_members(scope, members, tmp_path / "mr.csv")
    first_orders = await run_orders(scope, orders, tmp_path / "or.csv")
    trips: dict[tuple[str, int], int] = {}
    reports: dict[tuple[str, int], ImportReport] = {}
    # The same file in 4 batches and in 2: the difference is what 2 batches
    # cost, whatever the rows (the import's own start and end cost the same).
    for kind, size in (("members", 50), ("members", 100), ("orders", 25), ("orders", 50)):
        async with record_database() as log:
            if kind == "members":
                reports[kind, size] = await run_members(scope, members, tmp_path / "r.csv",
                                                        batch_size=size)  # fmt: skip
            else:
                reports[kind, size] = await run_orders(scope, orders, tmp_path / "r.csv",
                                                       batch_size=size)  # fmt: skip
        trips[kind, size] = len(log.round_trips)

    # Members: the batch's tags, its members by external id, the identities
    # of the rows that have none (every 11th) or were refused, their import tags.
    assert trips["members", 50] - trips["members", 100] == 2 * 4
    # Orders: the batch's orders, their members' identities.
    assert trips["orders", 25] - trips["orders", 50] == 2 * 2
    for size in (50, 100):
        report = reports["members", size]
        assert (report.created, report.unchanged) == (
            0, first_members.created + first_members.unchanged,
        )  # fmt: skip
    for size in (25, 50):
        report = reports["orders", size]
        assert (report.rows, report.created, report.unchanged) == (200, 0, 100)
    assert first_orders.created == 100


@pytest.mark.parametrize("kind", ["members", "orders"])
async def test_the_importers_read_no_further_than_one_batch_ahead(brand_a, tmp_path, kind):
    scope = BrandScope(brand_a)
    await prepare(scope)
    produced = 0
    read_ahead: list[int] = []

    def rows() -> Iterator[CsvRow]:
        nonlocal produced
        for line in range(2, 5_002):
            produced += 1
            if kind == "members":
                yield CsvRow(line, {"external_id": f"m-{line}"})
            else:
                values = dict(zip(ORDER_HEADER, order_rows(1, 1)[0], strict=True))
                yield CsvRow(line, {**values, "external_id": f"o-{line}"})

    def progress(done: int) -> None:
        read_ahead.append(produced - done)

    importer = import_members if kind == "members" else import_orders
    with RejectsFile(tmp_path / "r.csv", ["external_id"]) as rejects:
        report = await importer(scope, rows(), rejects, batch_size=500, progress=progress, now=NOW)

    assert report.rows == 5_000 and len(read_ahead) == 10
    # One batch, and for orders the row that tells the batch's last order has ended.
    assert max(read_ahead) <= (500 if kind == "members" else 501)


async def test_created_in_a_batch_a_member_is_stored_as_create_member_stores_it(brand_a, brand_b):
    profile = {"name": "王小明", "phone": "138 0013 8000", "email": "Wang@Example.com",
               "external_id": "c-1", "gender": "male", "interests": ["tea"],
               "join_channel": "pos"}  # fmt: skip
    joined = datetime(2021, 3, 4, 2, 0, tzinfo=UTC)
    for brand in (brand_a, brand_b):
        await create_definition(BrandScope(brand), "size", AttributeType.NUMBER, DefinitionValues())
    one = BrandScope(brand_a)
    await create_member(
        one, profile, identities=[("wechat_openid", "o-1")], attributes={"size": 42},
        joined_at=joined, imported=True,
    )  # fmt: skip
    batch = BrandScope(brand_b)
    values, wanted = draft_member(
        batch, profile, await definitions_by_key(batch), NOW.date(),
        [("wechat_openid", "o-1")], {"size": 42},
    )  # fmt: skip
    await create_members(
        batch, [MemberDraft(values, [(k, v) for k, v, _ in wanted], joined)], imported=True
    )

    assert await members_as_data(one) == await members_as_data(batch)


async def test_a_batch_with_a_taken_identity_writes_nothing_and_says_so(brand_a):
    scope = BrandScope(brand_a)
    await create_member(scope, {"name": "First", "external_id": "taken"})
    definitions = await definitions_by_key(scope)
    drafts = []
    for external_id in ("fresh", "taken"):
        values, wanted = draft_member(scope, {"external_id": external_id}, definitions, NOW.date())
        drafts.append(MemberDraft(values, [(k, v) for k, v, _ in wanted]))

    with pytest.raises(DomainError) as refused:
        await create_members(scope, drafts, imported=True)

    assert refused.value.code == "DUPLICATE_IDENTITY"
    assert await scope.query(Member).count() == 1
