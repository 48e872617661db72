"""Earn and redeem throughput on PostgreSQL, beside hand-written SQL.

32 concurrent clients, first spread over 1,000 members, then all on one member
(every call waits for the same row lock). Each figure is measured through
:mod:`tessera.assets.service` and, in the same run on the same database, by a
baseline of hand-written asyncpg statements doing the same conditional account
update, entry insert and lot insert/update in one transaction; the ratio is
service time over baseline time per operation.

Then the whole request: ``earnPoints`` over HTTP, 32 clients (each its own
keep-alive connection, harness.HttpConnection, every answer checked) against
``tessera serve`` (uvicorn, one process, started as a subprocess on the same
database, production settings), beside the hand-written SQL measured again
right before it. It is what a shop's client pays per call: authentication,
limits, parsing, the resolver, the audit entry, the request log line. The
server's CPU per request and the bench process's (the clients') are rows of
their own.

Run by ``make bench`` (not in CI). The database server comes from
``TESSERA_BENCH_DATABASE_URL`` (default: the local PostgreSQL); a throw-away
database is created on it and dropped afterwards. ``BENCH_OPS`` sets the
operations per figure (default 2,000). Figures go to ``var/bench/ledger.json``
(harness.Report), as time per operation (wall time of all clients / ops).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Figure, HttpConnection, Report, bench_database

from tessera import bootstrap, pg_client
from tessera.assets import service
from tessera.auth.api_keys import create_api_key
from tessera.config import Environment, Settings
from tessera.members.models import Member
from tessera.schema.ids import encode_id
from tessera.scope import BrandScope
from tessera.tenancy.service import create_brand, create_tenant

CLIENTS = 32
MEMBERS = 1000
# Every member's points before the bench's own writes (seed): an earn's
# answer must show a balance above it.
SEEDED = 10**9
OPS = int(os.environ.get("BENCH_OPS", "2000"))
# BENCH_WORKERS=2: `tessera serve --workers 2`, CLIENTS // 2 pool connections
# each (the baseline's CLIENTS in all), one process per core of a two-core
# machine, as an operator would run it (docs/bench.md, What bounds the wall figure).
WORKERS = int(os.environ.get("BENCH_WORKERS", "1"))
Op = Callable[[int], Awaitable[None]]
EARN = (
    "mutation($input: PointsInput!) "
    "{ earnPoints(input: $input) { balance replayed errors { code } } }"
)
ROOT = Path(__file__).resolve().parents[2]
# BENCH_PROFILE=file.txt: py-spy samples the server during the timed HTTP run,
# into the file as collapsed stacks (docs/bench.md, Profiling a request).
PROFILE = os.environ.get("BENCH_PROFILE")


async def run_clients(op: Op, ops: int = OPS) -> float:
    """Seconds for ``ops`` calls of ``op(i)`` by ``CLIENTS`` concurrent clients."""
    counter = itertools.count()

    async def client() -> None:
        while (i := next(counter)) < ops:
            await op(i)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return time.perf_counter() - started


class Baseline:
    """The same writes as the service, as plain SQL on an asyncpg pool."""

    def __init__(self, pool: asyncpg.Pool, brand_id: int) -> None:
        self.pool = pool
        self.brand_id = brand_id

    async def earn(self, member_id: int, amount: int, key: str) -> None:
        now = datetime.now(UTC)
        async with self.pool.acquire() as conn, conn.transaction():
            account_id, balance = await conn.fetchrow(
                "UPDATE asset_account SET balance = balance + $1, updated_at = $2 "
                "WHERE brand_id = $3 AND member_id = $4 AND kind = 'points' "
                "RETURNING id, balance",
                amount,
                now,
                self.brand_id,
                member_id,
            )
            entry_id = await conn.fetchval(
                "INSERT INTO ledger_entry (brand_id, account_id, member_id, kind, entry_type, "
                "amount, balance_after, reason, source_type, idempotency_key, fingerprint, "
                "actor, occurred_at, created_at) VALUES ($1, $2, $3, 'points', 'earn', $4, $5, "
                "'bench', 'bench', $6, $6, 'system', $7, $7) RETURNING id",
                self.brand_id,
                account_id,
                member_id,
                amount,
                balance,
                key,
                now,
            )
            await conn.execute(
                "INSERT INTO points_lot (brand_id, account_id, entry_id, amount, remaining, "
                "earned_at, status) VALUES ($1, $2, $3, $4, $4, $5, 'available')",
                self.brand_id,
                account_id,
                entry_id,
                amount,
                now,
            )

    async def redeem(self, member_id: int, amount: int, key: str) -> None:
        now = datetime.now(UTC)
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "UPDATE asset_account SET balance = balance - $1, updated_at = $2 "
                "WHERE brand_id = $3 AND member_id = $4 AND kind = 'points' AND balance >= $1 "
                "RETURNING id, balance",
                amount,
                now,
                self.brand_id,
                member_id,
            )
            if row is None:
                raise RuntimeError("baseline ran out of points")
            account_id, balance = row
            await conn.execute(
                "INSERT INTO ledger_entry (brand_id, account_id, member_id, kind, entry_type, "
                "amount, balance_after, reason, source_type, idempotency_key, fingerprint, "
                "actor, occurred_at, created_at) VALUES ($1, $2, $3, 'points', 'redeem', $4, $5, "
                "'bench', 'bench', $6, $6, 'system', $7, $7)",
                self.brand_id,
                account_id,
                member_id,
                -amount,
                balance,
                key,
                now,
            )
            lot = await conn.fetchrow(
                "SELECT id, remaining FROM points_lot WHERE brand_id = $1 AND account_id = $2 "
                "AND status = 'available' AND remaining > 0 "
                "ORDER BY expires_at NULLS LAST, earned_at, id LIMIT 1",
                self.brand_id,
                account_id,
            )
            await conn.execute(
                "UPDATE points_lot SET remaining = remaining - $1 "
                "WHERE id = $2 AND status = 'available' AND remaining >= $1",
                min(amount, lot["remaining"]),
                lot["id"],
            )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    """``tessera serve`` in a subprocess on the bench database, as an operator
    runs it (production settings, JSON log lines, here into a file)."""

    def __init__(self, database_url: str, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "TESSERA_ENVIRONMENT": "production",
            "TESSERA_DATABASE_URL": database_url,
            "TESSERA_SECRET_KEY": "bench-secret-key-that-is-long-enough-0123456789",
            "TESSERA_VAR_DIR": str(log_path.parent),
        }
        env.pop("TESSERA_REDIS_URL", None)
        self.log = log_path.open("w")
        self.process = subprocess.Popen(
            [
                str(ROOT / ".venv/bin/tessera"),
                "serve",
                "--port",
                str(self.port),
                "--workers",
                str(WORKERS),
            ],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    async def ready(self) -> None:
        async with httpx.AsyncClient() as client:
            for _ in range(300):
                if self.process.poll() is not None:
                    raise RuntimeError(f"the server stopped; see {self.log.name}")
                try:
                    if (await client.get(f"{self.url}/healthz")).is_success:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"the server did not start; see {self.log.name}")

    def cpu_seconds(self) -> float:
        """CPU time the server's processes (with ``--workers``, uvicorn's
        supervisor and its workers) have used (user and system)."""
        ticks, pids = 0, [self.process.pid]
        while pids:
            pid = pids.pop()
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except FileNotFoundError:
                continue
            ticks += int(fields[11]) + int(fields[12])
            pids += [int(child) for child in children]
        return ticks / os.sysconf("SC_CLK_TCK")

    def profile(self) -> subprocess.Popen[bytes] | None:
        """With ``BENCH_PROFILE``, py-spy (installed into .venv by hand)
        sampling the server's CPU (GIL held) until :meth:`stop_profile`."""
        if not PROFILE:
            return None
        spy = [str(ROOT / ".venv/bin/py-spy"), "record", "--pid", str(self.process.pid)]
        spy += [
            "--subprocesses",
            "--format",
            "raw",
            "--rate",
            "200",
            "--nonblocking",
            "--gil",
            "-o",
            PROFILE,
        ]
        return subprocess.Popen(spy, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    @staticmethod
    def stop_profile(spy: subprocess.Popen[bytes] | None) -> None:
        if spy is not None:
            spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
            spy.wait(timeout=60)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)  # uvicorn's clean shut-down
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


async def over_http(
    database_url: str, scope: BrandScope, targets: list[int], baseline: Baseline
) -> list[Figure]:
    """``earnPoints`` over HTTP beside the hand-written SQL, measured back to back."""
    token = (await create_api_key(scope.brand, "bench", ["write"])).token
    ids = [encode_id("Member", m) for m in targets]
    server = Server(
        database_url, Path(tempfile.mkdtemp(prefix="tessera-bench-http-")) / "serve.log"
    )
    try:
        await server.ready()
        # One keep-alive connection per caller, as 32 shops calling would
        # have, through a client as light as wrk (harness.HttpConnection):
        # its CPU is taken from the same two cores as the server's.
        connections = [
            await HttpConnection.open(server.url, "/graphql", {"Authorization": f"Bearer {token}"})
            for _ in range(CLIENTS)
        ]
        idle: asyncio.Queue[HttpConnection] = asyncio.Queue()
        for each in connections:
            idle.put_nowait(each)
        # The request bodies but for the idempotency key, built once.
        prefix = json.dumps({"query": EARN})[:-1].encode() + b', "variables": {"input": {'
        members = [f'"memberId": {json.dumps(each)}, "points": 1'.encode() for each in ids]
        try:

            def earn(run: str) -> Op:
                async def op(i: int) -> None:
                    body = b'%s%s, "idempotencyKey": "%s-%d"}}}' % (
                        prefix,
                        members[i],
                        run.encode(),
                        i,
                    )
                    connection = idle.get_nowait()
                    status, answer = await connection.post(body)
                    idle.put_nowait(connection)
                    # Every answer checked: a bench that counted failures as
                    # requests served would measure nothing.
                    decoded = json.loads(answer) if status == 200 else {}
                    earned = (decoded.get("data") or {}).get("earnPoints") or {}
                    if (
                        decoded.get("errors")
                        or earned.get("errors") != []
                        or earned.get("replayed") is not False
                        or not earned.get("balance", 0) > SEEDED
                    ):
                        raise RuntimeError(f"earnPoints: {status} {answer!r}")

                return op

            # Warm-up: every connection, the server's caches and its pool.
            await run_clients(earn("warm"), ops=CLIENTS * 4)
            cpu = time.process_time()
            theirs = await run_clients(lambda i: baseline.earn(targets[i], 1, f"bh-{i}"))
            their_cpu = time.process_time() - cpu
            spy = server.profile()
            cpu, clients_cpu = server.cpu_seconds(), time.process_time()
            ours = await run_clients(earn("h"))
            our_cpu = server.cpu_seconds() - cpu
            clients_cpu = time.process_time() - clients_cpu
            server.stop_profile(spy)
        finally:
            for each in connections:
                await each.close()
    finally:
        server.stop()
    return [
        Figure(
            f"earnPoints over HTTP, {CLIENTS} clients"
            + (f", {WORKERS} server processes" if WORKERS > 1 else ""),
            ours / OPS,
            theirs / OPS,
            "hand-written SQL ledger write, same clients",
            "µs",
        ),
        # Steadier on a shared machine than wall time: the CPU the server
        # process spends per request, beside the baseline process's per write.
        Figure(
            "earnPoints over HTTP, server CPU per op",
            our_cpu / OPS,
            their_cpu / OPS,
            "hand-written SQL, its process's CPU per write",
            "µs",
        ),
        # The load generator's own CPU (this process's), taken from the
        # server's two cores: it should stay small beside the server's.
        Figure(
            "earnPoints over HTTP, clients' CPU per op",
            clients_cpu / OPS,
            their_cpu / OPS,
            "hand-written SQL, its process's CPU per write",
            "µs",
        ),
    ]


async def seed(scope: BrandScope) -> list[int]:
    now = datetime.now(UTC)
    await Member.bulk_create(
        [scope.build(Member, name=f"bench {i}", joined_at=now) for i in range(MEMBERS)]
    )
    ids = sorted(await scope.query(Member).values_list("id", flat=True))
    # Enough points for every redeem of both runs, as one big lot per member.
    for member_id in ids:
        await service.earn_points(
            scope,
            member_id,
            SEEDED,
            idempotency_key=f"seed-{member_id}",
            reason="bench",
            source_type="bench",
        )
    return ids


async def main() -> int:
    async with bench_database() as url:
        # One pool connection per client on both sides.
        pooled = f"{url}?minsize=1&maxsize={CLIENTS}"
        settings = Settings(
            environment=Environment.TEST,
            database_url=pooled,
            redis_url=None,
            secret_key="bench-secret-key-that-is-long-enough-0123456789",  # type: ignore[arg-type]
            var_dir=Path(tempfile.mkdtemp(prefix="tessera-bench-")),
            log_json=False,
        )
        rt = await bootstrap.start(settings)
        tenant = await create_tenant("bench", "Bench")
        brand = await create_brand(tenant.code, "bench", "Bench", currency="CNY", timezone="UTC")
        scope = BrandScope(brand)
        members = await seed(scope)
        hot = members[0]
        # Tessera's own pool (tessera.pg_client: no reset round trip, idle
        # connections released in place): the baseline pays no more than it must.
        pool = await pg_client.create_pool(url, min_size=CLIENTS, max_size=CLIENTS)
        baseline = Baseline(pool, brand.id)
        rng = random.Random(7)
        spread = [rng.choice(members) for _ in range(OPS)]
        runs = itertools.count()

        def service_op(kind: str, target: Callable[[int], int]) -> Op:
            write = service.earn_points if kind == "earn" else service.redeem_points
            run = next(runs)

            async def op(i: int) -> None:
                await write(
                    scope,
                    target(i),
                    1,
                    idempotency_key=f"s{run}-{i}",
                    reason="bench",
                    source_type="bench",
                )

            return op

        def baseline_op(kind: str, target: Callable[[int], int]) -> Op:
            write = baseline.earn if kind == "earn" else baseline.redeem
            run = next(runs)

            async def op(i: int) -> None:
                await write(target(i), 1, f"b{run}-{i}")

            return op

        print(f"ledger writes on PostgreSQL: {OPS} ops per figure, {CLIENTS} concurrent clients")
        report = Report("ledger", {"ops": OPS, "clients": CLIENTS, "members": MEMBERS})
        # First, while this process's own pool holds few connections: the
        # server opens up to CLIENTS of its own.
        report.table(
            f"earnPoints over HTTP, {CLIENTS} clients (time per operation)",
            await over_http(
                f"{url}?minsize=1&maxsize={CLIENTS // WORKERS}", scope, spread, baseline
            ),
        )
        figures = []
        for kind in ("earn", "redeem"):
            for label, target in (
                (f"over {MEMBERS} members", spread.__getitem__),
                ("all on one member", lambda _i: hot),
            ):
                ours = await run_clients(service_op(kind, target))
                theirs = await run_clients(baseline_op(kind, target))
                figures.append(
                    Figure(
                        f"{kind}_points, service, {label}",
                        ours / OPS,
                        theirs / OPS,
                        "hand-written SQL, same clients",
                        "µs",
                    )
                )
        report.table(f"ledger writes, {CLIENTS} clients (time per operation)", figures)
        report.save()
        await pool.close()
        await bootstrap.stop(rt)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
