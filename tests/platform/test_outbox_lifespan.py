"""`tessera serve` without Redis works off the outbox itself, and drains it
when it shuts down (docs/operations.md, "The outbox")."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from tessera_processes import cli_env, served

from tessera.auth.api_keys import create_api_key
from tessera.outbox.models import OutboxEntry
from tessera.segments.models import MemberLifecycle

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
