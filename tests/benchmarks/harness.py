"""What the benchmarks share: a throw-away PostgreSQL database, a runtime on
it, timing, and the report (DESIGN.md: every figure beside a baseline
measured in the same run, as a ratio; printed, never asserted). A bench
collects its figures in a :class:`Report`, which prints each table and
writes ``var/bench/<bench>.json`` (``BENCH_RESULTS_DIR``) so a later run can
be compared; ``summary.py`` prints every bench's figures in one table.

A bench module is a script run by ``make bench``; it puts this folder on
``sys.path`` (``python -P`` does not) and imports this module.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import secrets
import statistics
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

import tessera.migrations
from tessera import db, migrations_tool, runtime
from tessera.bootstrap import build_host, build_outbox
from tessera.config import Environment, Limits, Settings
from tessera.jobs.queue import build_queue

# The migrated databases the benches' databases are copied from.
TEMPLATE_PREFIX = "tessera_bench_template_"
SERVER = os.environ.get(
    "TESSERA_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS = os.environ.get("TESSERA_BENCH_REDIS_URL", "redis://127.0.0.1:6379")
ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(os.environ.get("BENCH_RESULTS_DIR", str(ROOT / "var" / "bench")))


@asynccontextmanager
async def bench_database() -> AsyncIterator[str]:
    """A new database on the ``TESSERA_BENCH_DATABASE_URL`` server with
    Tessera's tables, dropped on the way out; or, with ``BENCH_DATABASE``
    set, that database, created if absent and kept, so a large data set is
    generated once and measured by several runs (drop it by hand).

    The tables are the committed migrations' (:func:`migrated_template`), as
    ``tessera migrate`` builds them for an operator: the models alone lack
    what only migrations add (the composite brand keys every write checks,
    the planner settings), and a bench on them measured a cheaper schema
    than production runs."""
    parts = urlsplit(SERVER.replace("asyncpg://", "postgresql://", 1))
    admin_url = urlunsplit(parts._replace(scheme="postgresql"))
    kept = os.environ.get("BENCH_DATABASE", "")
    name = kept or f"tessera_bench_{secrets.token_hex(4)}"
    template = await migrated_template(admin_url)
    admin = await asyncpg.connect(admin_url)
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await admin.close()
    url = urlunsplit(parts._replace(scheme="postgresql", path=f"/{name}"))
    if exists:  # a kept database of an earlier run: migrations since go on
        await migrations_tool.apply(url)
    try:
        yield url
    finally:
        if not kept:
            admin = await asyncpg.connect(admin_url)
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await admin.close()


async def migrated_template(admin_url: str) -> str:
    """The name of a database migrated to the committed migrations, made
    once per set of migration files (its name carries their digest) and
    copied for each bench: migrating takes ~15 s, copying a fraction of a
    second. Templates of other migration sets are dropped."""
    files = sorted(Path(*tessera.migrations.__path__).glob("*.py"))
    digest = hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()[:12]
    name = f"{TEMPLATE_PREFIX}{digest}"
    admin = await asyncpg.connect(admin_url)
    try:
        templates = [
            r["datname"]
            for r in await admin.fetch(
                "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", TEMPLATE_PREFIX
            )
        ]
        for stale in templates:
            if stale != name:
                await admin.execute(f'DROP DATABASE IF EXISTS "{stale}" WITH (FORCE)')
        if name in templates:
            return name
        # Built under a name of its own and renamed once migrated: a run
        # killed half-way leaves no half-migrated template behind it.
        building = f"{name}_{secrets.token_hex(3)}"
        await admin.execute(f'CREATE DATABASE "{building}"')
        try:
            url = urlunsplit(urlsplit(admin_url)._replace(path=f"/{building}"))
            print("bench database: migrating a template (once per set of migrations)")
            await migrations_tool.apply(url)
            await admin.execute(f'ALTER DATABASE "{building}" RENAME TO "{name}"')
        except asyncpg.DuplicateDatabaseError:
            pass  # a bench run alongside made it first
        finally:  # gone already once renamed
            await admin.execute(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
        return name
    finally:
        await admin.close()


@asynccontextmanager
async def bench_runtime(database_url: str, var_dir: Path) -> AsyncIterator[runtime.Runtime]:
    """Tessera connected to ``database_url`` (its tables made by
    :func:`bench_database`), jobs going to a fresh arq queue on Redis as in
    production, or in-process without it (the header says which). Follow-up
    work of each commit costs its outbox rows, written in the commit, not
    the work: no relay runs, as none runs inside a production request either."""
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
    return (await medians_in_turns(work, repeat=repeat, warm=warm))[0]


async def medians_in_turns(
    *works: Callable[[], Awaitable[object]],
    repeat: int,
    warm: int = 3,
    clock: Callable[[], float] = time.perf_counter,
) -> list[float]:
    """The median time of each of ``works`` by ``clock``, the works taking
    turns, one run of each per round: this machine runs a figure 1.5-1.7
    times slower for stretches of several runs (11 then 19 ms a page, on the
    same code and process), so a figure measured after its baseline could
    land in another stretch than the baseline."""
    for _ in range(warm):
        for work in works:
            await work()
    spent: list[list[float]] = [[] for _ in works]
    for _ in range(repeat):
        for work, times in zip(works, spent, strict=True):
            started = clock()
            await work()
            times.append(clock() - started)
    return [statistics.median(times) for times in spent]


async def median_cpu_seconds(
    *works: Callable[[], Awaitable[object]], repeat: int, warm: int = 3
) -> list[float]:
    """:func:`medians_in_turns` by the CPU time this process spends
    (database server and other processes excluded), steadier than wall time
    on a shared machine, where waiting for a core inflates every wall figure."""
    return await medians_in_turns(*works, repeat=repeat, warm=warm, clock=time.process_time)


# One step of a round of :func:`totals_in_turns`: the figure it counts
# towards, or None for set-up work between timed steps (not counted).
Step = tuple[str | None, Callable[[int], Awaitable[object]]]


async def totals_in_turns(steps: list[Step], rounds: int) -> dict[str, float]:
    """Wall seconds each named step spends over ``rounds`` rounds, each round
    running every step once, in order, with the round's number (a batch of
    orders, say): a figure and its baseline are measured side by side
    through the run, so a slow stretch of the machine falls on both, where
    timing each over the whole run, one after the other, put whole stretches
    on one side."""
    spent = {name: 0.0 for name, _ in steps if name is not None}
    for n in range(rounds):
        for name, step in steps:
            started = time.perf_counter()
            await step(n)
            if name is not None:
                spent[name] += time.perf_counter() - started
    return spent


@dataclass
class Figure:
    name: str
    value: float  # seconds
    baseline: float  # seconds
    baseline_name: str
    unit: str = "ms"  # how it is printed: "s", "ms" or "µs"

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else float("inf")


SCALE = {"s": 1.0, "ms": 1e3, "µs": 1e6}


def figure_row(f: Figure, prefix: str = "", width: int = 46) -> str:
    k = SCALE[f.unit]
    return (
        f"{prefix + f.name:<{width}}{f.value * k:>10.1f}{f.unit:>2}{f.baseline * k:>10.1f}"
        f"{f.unit:>2}  {f.ratio:>6.1f}x  {f.baseline_name}"
    )


def print_table(title: str, figures: list[Figure]) -> None:
    print(f"\n{title}")
    print(f"{'figure':<46}{'Tessera':>12}{'baseline':>12}  {'ratio':>7}  baseline is")
    for f in figures:
        print(figure_row(f))


def git_commit() -> str:
    """The commit measured, with ``-dirty`` when the worktree has changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}-dirty" if dirty else head


@dataclass
class Report:
    """One bench run: its sizes and tables. ``table`` prints as it goes;
    ``save`` writes the JSON (the one before it kept as
    ``<bench>.previous.json``)."""

    bench: str
    sizes: dict[str, Any]
    tables: list[tuple[str, list[Figure]]] = field(default_factory=list)

    def table(self, title: str, figures: list[Figure]) -> None:
        print_table(title, figures)
        self.tables.append((title, figures))

    def as_json(self) -> dict[str, Any]:
        return {
            "bench": self.bench,
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "commit": git_commit(),
            "sizes": self.sizes,
            "figures": [
                {"table": title, **asdict(f), "ratio": f.ratio}
                for title, figures in self.tables
                for f in figures
            ],
        }

    def save(self, directory: Path = RESULTS) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.bench}.json"
        if path.exists():
            path.replace(directory / f"{self.bench}.previous.json")
        path.write_text(json.dumps(self.as_json(), indent=2, ensure_ascii=False) + "\n")
        print(f"\nfigures written to {path}")
        return path


class HttpConnection:
    """One keep-alive HTTP/1.1 connection that POSTs JSON and reads the
    answer: a load generator as light as wrk's, for the benches that measure
    a server on the same cores as their clients (docs/bench.md, A small
    mutation over HTTP). httpx spent some 7 times this client's CPU per
    request, two fifths of what the server spent, and on a two-core machine
    every client's CPU is taken from the server's share, so the wall figure
    measured httpx as much as Tessera. This writes the request as bytes built
    once but for the length and body, and reads the status line, the headers
    and a ``Content-Length`` body; anything else (chunked bodies, the server
    closing the connection) is an error, not something to support. The
    caller checks every answer."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.head = head

    @classmethod
    async def open(cls, url: str, path: str, headers: dict[str, str]) -> HttpConnection:
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        reader, writer = await asyncio.open_connection(host, port)
        lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}"]
        lines += ["Content-Type: application/json", "Accept: application/json"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        return cls(reader, writer, ("\r\n".join(lines) + "\r\nContent-Length: ").encode())

    async def post(self, body: bytes) -> tuple[int, bytes]:
        """The status and body of the answer to ``body`` POSTed on this connection."""
        self.writer.write(b"%s%d\r\n\r\n%s" % (self.head, len(body), body))
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, _, header_block = head.partition(b"\r\n")
        version, status, _ = status_line.split(b" ", 2)
        if version != b"HTTP/1.1":
            raise RuntimeError(f"not an HTTP/1.1 answer: {status_line!r}")
        length = None
        for line in header_block.lower().split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" or (
                name == b"connection" and value.strip() == b"close"
            ):
                raise RuntimeError(f"answer this client does not read: {line!r}")
        if length is None:
            raise RuntimeError(f"answer without Content-Length: {head!r}")
        return int(status), await self.reader.readexactly(length)

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()
