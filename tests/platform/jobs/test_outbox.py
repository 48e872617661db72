"""The transactional outbox: follow-up work commits (or rolls back) with the
change, survives a crash between commit and relay, runs in the background
without the request waiting, coalesces per member, retries transient
failures, and is never dropped silently (docs/operations.md, "The outbox")."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from tortoise.transactions import in_transaction

from tessera.behaviour.service import EventInput, record_event
from tessera.jobs import registry
from tessera.jobs.registry import JobDefinition
from tessera.members.service import create_member
from tessera.orders.inputs import MemberRef
from tessera.outbox import store
from tessera.outbox.models import OutboxEntry
from tessera.outbox.relay import OutboxRelay, outbox_run
from tessera.schema.ids import encode_id
from tessera.scope import BrandScope
from tessera.segments.models import MemberLifecycle
from tessera.testing import record_database
from tessera.uow import unit_of_work

HERE = Path(__file__).parent
T0 = datetime(2025, 4, 1, 9, tzinfo=UTC)

RECORD_MANY = """
mutation($input: RecordOrdersInput!) {
  recordOrders(input: $input) { results { index order { externalId } errors { code } }
                                errors { code } }
}
"""


def order(member_id: int, external_id: str) -> dict[str, Any]:
    return {
        "externalId": external_id,
        "memberId": encode_id("Member", member_id),
        "occurredAt": "2025-04-01T09:00:00Z",
        "amountPaid": {"amount": "10", "currency": "CNY"},
        "lines": [{"sku": "S", "quantity": 1, "unitPrice": {"amount": "10", "currency": "CNY"}}],
    }


async def member(brand: Any, uid: str) -> Any:
    return await create_member(BrandScope(brand), {"name": uid}, identities=[("app_user_id", uid)])


@pytest.fixture
def facts_runs(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """The member ids of every ``segments_member_facts`` run, which still does its work."""
    original = registry.get("segments_member_facts")
    runs: list[list[int]] = []

    async def spy(ctx: dict[str, Any], brand_id: int, member_ids: list[int], **kw: Any) -> None:
        runs.append(list(member_ids))
        await original.function(ctx, brand_id, member_ids, **kw)

    monkeypatch.setitem(
        registry._jobs(), "segments_member_facts", JobDefinition("segments_member_facts", spy)
    )
    return runs


async def pending(kind: str | None = None) -> list[OutboxEntry]:
    query = OutboxEntry.filter(done_at__isnull=True, failed_at__isnull=True)
    if kind is not None:
        query = query.filter(kind=kind)
    return list(await query.order_by("id"))


# Written with the change


async def test_follow_up_work_commits_with_the_change_and_rolls_back_with_it(
    brand_a, register_job, drain_outbox
):
    ran: list[str] = []

    async def note(ctx: dict[str, Any], text: str) -> None:
        ran.append(text)

    register_job(note, name="outbox_note")
    scope = BrandScope(brand_a)
    with pytest.raises(RuntimeError):
        async with unit_of_work(scope) as uow:
            uow.follow_up("outbox_note", "rolled back")
            raise RuntimeError("the change fails")
    async with unit_of_work(scope) as uow:
        uow.follow_up("outbox_note", "committed")

    assert [e.payload for e in await pending()] == [{"args": ["committed"], "kwargs": {}}]
    assert await drain_outbox() == 1
    assert ran == ["committed"]
    assert await pending() == []


async def test_a_unit_of_work_inside_an_outer_transaction_hands_its_work_to_the_outer_commit(
    brand_a, register_job
):
    # Such work used to be logged and dropped ("inside a transaction").
    async def note(ctx: dict[str, Any]) -> None:
        return None

    register_job(note, name="outbox_nested")
    scope = BrandScope(brand_a)
    with pytest.raises(RuntimeError):
        async with in_transaction():
            async with unit_of_work(scope) as uow:
                uow.follow_up("outbox_nested")
            raise RuntimeError("the outer transaction fails")
    assert await pending() == []
    async with in_transaction(), unit_of_work(scope) as uow:
        uow.follow_up("outbox_nested")
    assert [e.kind for e in await pending()] == ["outbox_nested"]


async def test_an_unknown_kind_of_work_fails_the_change_instead_of_vanishing(brand_a):
    scope = BrandScope(brand_a)
    with pytest.raises(registry.UnknownJob):
        async with unit_of_work(scope) as uow:
            uow.emit("member.updated", member_id=1)
            uow.follow_up("no_such_job")
    assert await pending() == []


async def test_a_failing_follow_up_planner_fails_the_change_rather_than_being_swallowed(
    brand_a, monkeypatch
):
    from tessera import uow as uow_module
    from tessera.members.models import Member

    def boom(events: list[Any]) -> list[Any]:
        raise RuntimeError("planner bug")

    monkeypatch.setitem(uow_module._planners, "tests:boom", boom)
    monkeypatch.setattr(uow_module, "FOLLOW_UPS", [*uow_module.FOLLOW_UPS, "tests:boom"])
    with pytest.raises(RuntimeError, match="planner bug"):
        await member(brand_a, "never")
    assert await BrandScope(brand_a).query(Member).count() == 0
    assert await pending() == []


# Crash between commit and relay


async def test_a_process_killed_between_commit_and_relay_loses_no_work(
    brand_a, tessera_database_url, tmp_path, drain_outbox
):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    env.update(
        TESSERA_DATABASE_URL=tessera_database_url,
        TESSERA_VAR_DIR=str(tmp_path),
        TESSERA_ENVIRONMENT="test",
    )
    child = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-P", str(HERE / "crash_after_commit.py"), str(brand_a.id)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -9, child.stdout + child.stderr  # SIGKILL, after the commit
    [entry] = await pending("segments_member_facts")
    member_id = entry.payload["args"][1][0]
    assert await MemberLifecycle.filter(member_id=member_id).count() == 0

    await drain_outbox()  # a fresh relay (this process) finds it

    assert (await MemberLifecycle.get(member_id=member_id)).stage == "new"
    assert await pending() == []


# Requests do not wait


async def test_record_orders_answers_before_any_follow_up_work_runs(
    brand_a, api_key, gql, drain_outbox, facts_runs
):
    buyers = [await member(brand_a, f"buyer-{i}") for i in range(5)]
    await drain_outbox()
    facts_runs.clear()
    token = await api_key(brand_a, "write")

    async with record_database() as during:
        data = await gql(
            RECORD_MANY,
            {"input": {"orders": [order(m.id, f"o-{m.id}") for m in buyers]}},
            token=token,
        )

    assert [r["errors"] for r in data["recordOrders"]["results"]] == [[]] * 5
    # The answer came with the work written, not done: no lifecycle, tag or
    # segment statement ran in the request, and no re-evaluation.
    assert not [q for q in during.statements if "member_lifecycle" in q]
    assert facts_runs == []
    waiting = await pending("segments_member_facts")
    assert sorted(e.payload["args"][1][0] for e in waiting) == sorted(m.id for m in buyers)

    await drain_outbox()

    assert facts_runs == [sorted(m.id for m in buyers)]  # one set-based run for the five
    stages = await MemberLifecycle.filter(member_id__in=[m.id for m in buyers])
    assert len(stages) == 5
    assert await OutboxEntry.filter(done_at__isnull=False).count() >= 5
    assert await pending() == []


async def test_the_in_process_runner_works_in_the_background_bounded_and_drains_on_stop(
    brand_a, register_job
):
    gate = asyncio.Event()
    two_running = asyncio.Event()
    running = 0
    most = 0
    finished: list[int] = []

    async def slow(ctx: dict[str, Any], n: int) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        if running == 2:
            two_running.set()
        await gate.wait()
        running -= 1
        finished.append(n)

    register_job(slow, name="outbox_slow")
    relay = OutboxRelay(concurrency=2, poll_s=30)
    relay.start()
    try:
        scope = BrandScope(brand_a)
        async with unit_of_work(scope) as uow:
            for n in range(5):
                uow.follow_up("outbox_slow", n)
        relay.notify()
        await asyncio.wait_for(two_running.wait(), timeout=30)
        assert (running, finished) == (2, [])  # the caller goes on while the work runs
        gate.set()
    finally:
        await relay.stop()  # drains what is left
    assert sorted(finished) == [0, 1, 2, 3, 4]
    assert most == 2
    assert await pending() == []


# Coalescing and set-based re-evaluation


async def test_many_facts_of_one_member_make_one_reevaluation(brand_a, drain_outbox, facts_runs):
    m = await member(brand_a, "busy")
    await drain_outbox()
    facts_runs.clear()
    scope = BrandScope(brand_a)
    for n in range(6):
        await record_event(scope, EventInput(f"e-{n}", MemberRef(member_id=m.id), "view", T0))

    assert len(await pending("segments_member_facts")) == 1
    await drain_outbox()
    assert facts_runs == [[m.id]]


async def test_the_lifecycle_of_many_members_costs_the_statements_of_one(brand_a):
    from tessera.segments import lifecycle

    scope = BrandScope(brand_a)
    members = [await member(brand_a, f"m-{i}") for i in range(25)]
    await lifecycle.recompute_members(scope, [members[-1].id])  # the brand's cut-offs, kept
    async with record_database() as one:
        await lifecycle.recompute_members(scope, [members[0].id])
    async with record_database() as many:
        await lifecycle.recompute_members(scope, [m.id for m in members])
    assert len(many.round_trips) == len(one.round_trips)
    assert sum('INSERT INTO "member_lifecycle"' in q for q in many.statements) == 1
    assert await MemberLifecycle.filter(member_id__in=[m.id for m in members]).count() == 25


async def test_a_brand_without_lifecycle_settings_is_ranked_once_not_per_job(brand_a):
    from tessera.segments import lifecycle
    from tessera.segments.models import LifecycleSettings

    scope = BrandScope(brand_a)
    first, second = await member(brand_a, "q-1"), await member(brand_a, "q-2")
    await lifecycle.recompute_members(scope, [first.id])
    assert await scope.query(LifecycleSettings).count() == 1  # cut-offs kept
    async with record_database() as later:
        await lifecycle.recompute_members(scope, [second.id])
    assert not [q for q in later.statements if "NTILE" in q]


# Failures: retried, recorded, never dropped


def deadlock() -> asyncpg.exceptions.DeadlockDetectedError:
    return asyncpg.exceptions.DeadlockDetectedError("deadlock detected")


async def test_a_job_that_deadlocks_is_retried_not_dropped(brand_a, register_job, drain_outbox):
    tries: list[int] = []

    async def contended(ctx: dict[str, Any]) -> None:
        tries.append(ctx["job_try"])
        if len(tries) == 1:
            raise deadlock()

    register_job(contended, name="outbox_contended")
    async with unit_of_work(BrandScope(brand_a)) as uow:
        uow.follow_up("outbox_contended")

    await drain_outbox()

    assert tries == [1, 2]
    entry = await OutboxEntry.get(kind="outbox_contended")
    assert (entry.attempts, entry.last_error, entry.failed_at) == (2, None, None)
    assert entry.done_at is not None


async def test_work_that_keeps_failing_ends_failed_with_its_error(
    brand_a, register_job, drain_outbox
):
    async def broken(ctx: dict[str, Any]) -> None:
        raise ValueError("no such thing")

    register_job(broken, name="outbox_broken", max_tries=3)
    async with unit_of_work(BrandScope(brand_a)) as uow:
        uow.follow_up("outbox_broken")

    await drain_outbox()

    entry = await OutboxEntry.get(kind="outbox_broken")
    assert (entry.attempts, entry.done_at) == (3, None)
    assert entry.failed_at is not None
    assert entry.last_error == "ValueError: no such thing"


async def test_an_entry_relayed_twice_applies_once(brand_a, register_job):
    applied: list[int] = []

    async def once(ctx: dict[str, Any]) -> None:
        applied.append(1)

    register_job(once, name="outbox_once")
    async with unit_of_work(BrandScope(brand_a)) as uow:
        uow.follow_up("outbox_once")
    claimed = await store.claim(10, lease_s=600)
    assert [e.kind for e in claimed] == ["outbox_once"]
    assert await store.claim(10, lease_s=600) == []  # leased: no second relay takes it

    assert await store.execute(claimed) is True
    # arq runs a duplicate of the job (a worker died after finishing it).
    assert await outbox_run({}, [claimed[0].id]) is True
    assert applied == [1]


async def test_the_worker_relays_the_outbox_onto_arq(
    brand_a, arq_queue, run_burst_worker, facts_runs
):
    m = await member(brand_a, "via-arq")
    relay = OutboxRelay(arq=arq_queue)
    assert await relay.relay_once() >= 1
    assert await relay.relay_once() == 0  # leased while arq has it
    await run_burst_worker()
    assert facts_runs == [[m.id]]
    assert await pending() == []
    assert (await MemberLifecycle.get(member_id=m.id)).stage == "new"


async def test_done_entries_are_pruned_after_a_week_and_nothing_else(brand_a):
    from datetime import timedelta

    from tessera.outbox.relay import outbox_prune

    async with unit_of_work(BrandScope(brand_a)) as uow:
        for n in range(3):
            uow.follow_up("ping", key=f"prune-{n}")
    old, recent, waiting = await OutboxEntry.all().order_by("id")
    now = datetime.now(UTC)
    await OutboxEntry.filter(id=old.id).update(done_at=now - timedelta(days=8))
    await OutboxEntry.filter(id=recent.id).update(done_at=now - timedelta(days=6))

    assert await outbox_prune({}) == 1
    assert sorted(await OutboxEntry.all().values_list("id", flat=True)) == [recent.id, waiting.id]


async def test_a_unit_of_work_writes_its_work_in_one_statement_coalesced_by_key(brand_a):
    scope = BrandScope(brand_a)
    async with unit_of_work(scope) as uow:
        uow.follow_up("ping", key="same")
    async with record_database() as log, unit_of_work(scope) as uow:
        uow.follow_up("ping", 1, [2, 3], key="same")  # pending already: not written
        for n in range(50):
            uow.follow_up("ping", n, {"at": "x"}, key=f"k-{n % 25}")
        uow.follow_up("ping", "no key", flag=True)
    inserts = [s for s in log.statements if s.lstrip().upper().startswith('INSERT INTO "OUTBOX"')]
    assert len(inserts) == 1
    rows = await OutboxEntry.filter(brand_id=brand_a.id).order_by("id")
    assert [(r.key, r.payload) for r in rows] == [
        ("same", {"args": [], "kwargs": {}}),
        *((f"k-{n}", {"args": [n, {"at": "x"}], "kwargs": {}}) for n in range(25)),
        (None, {"args": ["no key"], "kwargs": {"flag": True}}),
    ]
    assert all(r.attempts == 0 and r.done_at is None and r.available_at for r in rows)
