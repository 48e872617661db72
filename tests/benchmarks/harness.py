"""What the benchmarks share: a throw-away PostgreSQL database, a runtime on
it, timing, and the printed table (DESIGN.md: every figure beside a baseline
measured in the same run, as a ratio; printed, never asserted).

A bench module is a script run by ``make bench``; it puts this folder on
``sys.path`` (``python -P`` does not) and imports this module.
"""

from __future__ import annotations

import os
import secrets
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from tortoise import Tortoise

from tessera import db, runtime
from tessera.bootstrap import build_host, build_outbox
from tessera.config import Environment, Limits, Settings
from tessera.jobs.queue import build_queue

SERVER = os.environ.get(
    "TESSERA_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS = os.environ.get("TESSERA_BENCH_REDIS_URL", "redis://127.0.0.1:6379")


@asynccontextmanager
async def bench_database() -> AsyncIterator[str]:
    """A new database on the ``TESSERA_BENCH_DATABASE_URL`` server with
    Tessera's tables, dropped on the way out."""
    parts = urlsplit(SERVER.replace("asyncpg://", "postgresql://", 1))
    admin_url = urlunsplit(parts._replace(scheme="postgresql"))
    name = f"tessera_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = urlunsplit(parts._replace(scheme="postgresql", path=f"/{name}"))
    try:
        yield url
    finally:
        admin = await asyncpg.connect(admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@asynccontextmanager
async def bench_runtime(database_url: str, var_dir: Path) -> AsyncIterator[runtime.Runtime]:
    """Tessera connected to ``database_url`` with tables from the models, jobs
    going to a fresh arq queue on Redis as in production, or in-process
    without it (the header says which). Follow-up work of each commit costs
    its outbox rows, written in the commit, not the work: no relay runs, as
    none runs inside a production request either."""
    settings = Settings(
        environment=Environment.TEST,
        database_url=database_url,
        redis_url=None,
        secret_key="bench-secret-key-that-is-long-enough-0123456789",  # type: ignore[arg-type]
        var_dir=var_dir,
        log_json=False,
        limits=Limits(max_body_bytes=16 * 1024 * 1024),
    )
    await db.connect(database_url)
    await Tortoise.generate_schemas(safe=False)
    queue_name = f"tessera-bench-{secrets.token_hex(4)}"
    try:
        from tessera.jobs.arq_queue import ArqQueue

        queue = await ArqQueue.connect(REDIS, queue_name=queue_name)
        if not await queue.ping():
            raise OSError("no answer")
        where = f"arq queue {queue_name} on {REDIS}"
    except Exception:
        queue, where = await build_queue(None), "in-process (no Redis)"
    rt = runtime.install(
        runtime.Runtime(settings, build_host(settings), queue, build_outbox(settings, queue))
    )
    print(f"database {database_url.rsplit('/', 1)[-1]}; jobs {where}")
    try:
        yield rt
    finally:
        pool = getattr(queue, "pool", None)
        if pool is not None:
            job_ids = await pool.zrange(queue_name, 0, -1)
            for job_id in job_ids:
                await pool.delete(f"arq:job:{job_id.decode()}")
            await pool.delete(queue_name)
        await queue.close()
        await db.disconnect()


async def seconds(work: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await work()
    return time.perf_counter() - started


async def median_seconds(
    work: Callable[[], Awaitable[object]], repeat: int, warm: int = 3
) -> float:
    for _ in range(warm):
        await work()
    return statistics.median([await seconds(work) for _ in range(repeat)])


@dataclass
class Figure:
    name: str
    value: float  # seconds
    baseline: float  # seconds
    baseline_name: str
    unit: str = "ms"


def print_table(title: str, figures: list[Figure]) -> None:
    scale = {"ms": 1000.0, "s": 1.0}
    print(f"\n{title}")
    print(f"{'figure':<46}{'Tessera':>12}{'baseline':>12}  {'ratio':>7}  baseline is")
    for f in figures:
        k = scale[f.unit]
        print(
            f"{f.name:<46}{f.value * k:>10.1f}{f.unit:>2}{f.baseline * k:>10.1f}{f.unit:>2}"
            f"  {f.value / f.baseline:>6.1f}x  {f.baseline_name}"
        )
