"""The outbox across processes: `tessera serve` without Redis works off the
outbox itself and drains it when it shuts down; `tessera outbox` shows and
retries what waits or failed (docs/operations.md, "The outbox")."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from tessera_processes import cli_env, served, tessera

from tessera.auth.api_keys import create_api_key
from tessera.outbox.models import OutboxEntry
from tessera.scope import BrandScope
from tessera.segments.models import MemberLifecycle
from tessera.uow import unit_of_work

CREATE = (
    "mutation { createMember(input: {name: %s, externalId: %s}) { member { id } errors { code } } }"
)


def create_members(base: str, token: str, names: list[str]) -> None:
    for name in names:
        answer = httpx.post(
            f"{base}/graphql",
            json={"query": CREATE % (f'"{name}"', f'"ext-{name.split()[-1]}"')},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        ).json()
        assert answer["data"]["createMember"]["errors"] == [], answer


async def test_the_server_runs_follow_up_work_and_drains_it_on_shutdown(
    brand_a, tessera_database_url: str, tmp_path: Path
) -> None:
    issued = await create_api_key(brand_a, "lifespan", ["write"])
    env = cli_env(tessera_database_url, tmp_path)

    def serve_and_stop() -> None:
        with served(env, tmp_path) as base:
            create_members(base, issued.token, [f"Served {i}" for i in range(3)])
        # `served` sent SIGTERM and waited: the lifespan's shut-down ran.

    await asyncio.to_thread(serve_and_stop)

    entries = await OutboxEntry.filter(brand_id=brand_a.id)
    assert {e.kind for e in entries} >= {"segments_member_facts"}
    assert [e for e in entries if e.done_at is None] == []
    assert await MemberLifecycle.filter(brand_id=brand_a.id).count() == 3


async def test_outbox_status_shows_due_and_failed_work_and_retry_puts_it_back(
    brand_a, tessera_database_url: str, tmp_path: Path
) -> None:
    async with unit_of_work(BrandScope(brand_a)) as uow:
        uow.follow_up("ping")
        uow.follow_up("ping")
    due, broken = await OutboxEntry.filter(kind="ping").order_by("id")
    await OutboxEntry.filter(id=broken.id).update(
        failed_at=broken.created_at, attempts=5, last_error="ValueError: no such thing"
    )
    env = cli_env(tessera_database_url, tmp_path)

    def cli(*args: str) -> str:
        done = tessera("outbox", *args, env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        return done.stdout

    helped = await asyncio.to_thread(cli, "status", "--help")
    assert "--failed" in helped
    shown = await asyncio.to_thread(cli, "status", "--failed")
    [row] = [line for line in shown.splitlines() if "ping" in line and "│" in line]
    assert [cell.strip() for cell in row.split("│")[1:-1]] == ["ping", "1", "0", "1", "0"]
    assert f"#{broken.id} ping brand {brand_a.id} after 5 attempt(s): " in shown
    assert "ValueError: no such thing" in shown
    assert "oldest due entry:" in shown
    # Looking runs nothing.
    assert (await OutboxEntry.get(id=due.id)).done_at is None

    assert "1 failed entry queued again" in await asyncio.to_thread(cli, "retry")
    again = await OutboxEntry.get(id=broken.id)
    assert (again.failed_at, again.attempts) == (None, 0)
