"""pytest fixtures for Tessera and for plugins built on it.

Registered through the ``pytest11`` entry point, so any project that installs
Tessera gets them. A partner's plugin test::

    async def test_my_sender_is_installed(brand_a, api_key, gql):
        token = await api_key(brand_a, "read")
        data = await gql("{ plugins { name components { key } } }", token=token)
        assert "my-plugin" in [p["name"] for p in data["plugins"]]

Fixtures: ``tessera_db`` (runtime, tables emptied after the test), ``brand_a``
and ``brand_b``, ``api_key``, ``http``, ``gql``, ``register_plugin``,
``enable_feature``, ``emit_event``, ``record_events``, ``new_member``,
``drain_outbox``, ``assert_round_trips``, ``assert_statements`` (and
``record_database``), ``webhook_receiver``; docs/plugins.md
shows each. Local servers for a sender's tests: ``local_http_server(handler)``
and ``provider_server()`` (a provider's API answering through a function).
``run_cli(database_url, var_dir, *args)`` runs the ``tessera`` command.

Follow-up work of a commit (segment re-evaluation, activity rewards) goes to
the outbox and, in the test runtime, waits there: no background runner runs
in tests, so a test sees exactly the state the request left.
``await drain_outbox()`` then runs all of it, deterministically, in the
test's task.

The suite runs on a fresh SQLite file by default. Set
``TESSERA_TEST_DATABASE_URL`` to a PostgreSQL server URL (its database is only
used to create and drop a throw-away one) to run on PostgreSQL. Async fixtures
live on the session event loop: set ``asyncio_default_fixture_loop_scope`` and
``asyncio_default_test_loop_scope`` to ``session`` in your pytest config.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import os
import secrets
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import aiosqlite
import asyncpg
import asyncpg.introspection
import asyncpg.pool
import httpx
import pytest
import pytest_asyncio
from tortoise import BaseDBAsyncClient, Tortoise, connections
from tortoise.exceptions import OperationalError

from tessera import DomainEvent, PointsRule, bootstrap, db, hookimpl
from tessera.auth.api_keys import create_api_key
from tessera.config import Environment, Limits, Settings
from tessera.runtime import Runtime
from tessera.tenancy.models import Brand
from tessera.tenancy.service import create_brand, create_tenant

GqlCall = Callable[..., Awaitable[dict[str, Any]]]
log = logging.getLogger("tessera.testing")


# Child processes of a test (the CLI, a server) get it too: identities are
# sealed and indexed with keys derived from it.
TEST_SECRET_KEY = "test-secret-key-that-is-long-enough-0123456789"


def _ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


async def _create_postgres_database(server_url: str) -> tuple[str, Callable[[], Awaitable[None]]]:
    import asyncpg

    parts = urlsplit(server_url.replace("asyncpg://", "postgresql://", 1))
    name = f"tessera_test_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(urlunsplit(parts._replace(scheme="postgresql")))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        # A throw-away database need not wait for the WAL to reach the disk at
        # each commit (a crash of the server loses it anyway): every test's
        # commits, its clean-up included, are spared an fsync. Visibility and
        # locking are unchanged; only durability is.
        await admin.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    finally:
        await admin.close()

    async def drop() -> None:
        conn = await asyncpg.connect(urlunsplit(parts._replace(scheme="postgresql")))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    return urlunsplit(parts._replace(scheme="postgresql", path=f"/{name}")), drop


async def _add_brand_keys() -> None:
    """The composite brand keys of the PostgreSQL-only migration, which
    ``generate_schemas`` cannot know: the suite runs behind the same backstop
    as production (a test checks the migration adds exactly these)."""
    conn = connections.get("default")
    for migration in brand_key_migrations():
        for statement in migration.statements():
            await conn.execute_script(statement)


def brand_key_migrations() -> list[Any]:
    """The migrations that add composite brand keys (0004_brand_keys, and any
    later one with a ``BRAND_LINKS`` list and ``statements()`` of its own), in order."""
    import pkgutil

    import tessera.migrations

    found = []
    for info in sorted(pkgutil.iter_modules(tessera.migrations.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"tessera.migrations.{info.name}")
        if hasattr(module, "BRAND_LINKS"):
            found.append(module)
    return found


@pytest.fixture(scope="session")
def tessera_var_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tessera-var")


@pytest_asyncio.fixture(scope="session")
async def tessera_database_url(tessera_var_dir: Path) -> AsyncIterator[str]:
    """A freshly migrated database for this test run, dropped afterwards."""
    server = os.environ.get("TESSERA_TEST_DATABASE_URL", "")
    drop: Callable[[], Awaitable[None]] | None = None
    if server and not server.startswith("sqlite"):
        try:
            url, drop = await _create_postgres_database(server)
        except OSError as exc:
            pytest.exit(f"TESSERA_TEST_DATABASE_URL={server} is unreachable: {exc}", returncode=3)
    else:
        # synchronous=OFF: no fsync per commit (the file is thrown away, and a
        # process that dies still leaves its writes with the OS). SQLite's
        # default syncs the WAL at every commit, which made emptying the
        # tables after each test alone cost ~0.1 s.
        url = server or f"sqlite://{tessera_var_dir / 'test.sqlite3'}?synchronous=OFF"
    # Tables straight from the models: a separate test proves the committed
    # migrations produce exactly these.
    await db.connect(url)
    await Tortoise.generate_schemas(safe=False)
    if db.is_postgres(url):
        await _add_brand_keys()
    await db.disconnect()
    yield url
    if drop is not None:
        await drop()


@pytest.fixture(scope="session")
def tessera_settings(tessera_database_url: str, tessera_var_dir: Path) -> Settings:
    return Settings(
        environment=Environment.TEST,
        database_url=tessera_database_url,
        redis_url=None,
        secret_key=TEST_SECRET_KEY,
        var_dir=tessera_var_dir,
        log_json=False,
        limits=Limits(),
        # Webhook tests post to a receiver on 127.0.0.1, which the SSRF guard
        # refuses outside development unless allowed (docs/webhooks.md).
        webhook_allow_private_networks=True,
    )


@pytest_asyncio.fixture(scope="session")
async def tessera_runtime(tessera_settings: Settings) -> AsyncIterator[Runtime]:
    """Database connected, plugins loaded, jobs inline."""
    rt = await bootstrap.start(tessera_settings)
    yield rt
    await bootstrap.stop(rt)


@pytest_asyncio.fixture(scope="session")
async def tessera_redis_url() -> str:
    """``TESSERA_TEST_REDIS_URL``, checked to answer. When it is unset a test using
    this skips, or fails when ``CI`` is true, so CI cannot pass without Redis.
    Share the server safely: give each test run its own arq queue name."""
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    url = os.environ.get("TESSERA_TEST_REDIS_URL", "")
    if not url:
        if _ci():
            pytest.fail("CI is true but TESSERA_TEST_REDIS_URL is not set", pytrace=False)
        pytest.skip("needs Redis: set TESSERA_TEST_REDIS_URL")
    client = Redis.from_url(url)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        pytest.fail(f"TESSERA_TEST_REDIS_URL={url} is unreachable: {exc}", pytrace=False)
    finally:
        await client.aclose()
    return url


async def _empty_all_tables(conn: BaseDBAsyncClient | None = None) -> None:
    conn = conn or connections.get("default")
    tables = [model._meta.db_table for model in Tortoise.apps[db.APP_LABEL].values()]
    if db.is_postgres(_url_of(conn)):
        # DELETE of a few rows is far cheaper than TRUNCATE's per-table file work;
        # with triggers off (needs a superuser, as the test server's role is), the
        # order of the tables does not matter.
        deletes = "".join(f'DELETE FROM "{t}";' for t in tables)
        try:
            await conn.execute_script(
                f"SET session_replication_role = replica;{deletes}"
                "SET session_replication_role = DEFAULT;"
            )
        except OperationalError as error:
            if not _lacks_privilege(error):
                raise
            log.warning(
                "emptying the test tables with TRUNCATE (slower): the database role cannot "
                "switch triggers off: %s",
                error.__cause__,
            )
            quoted = ", ".join(f'"{t}"' for t in tables)
            await conn.execute_script(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")
    else:
        await conn.execute_script(
            "PRAGMA foreign_keys=OFF;"
            + "".join(f'DELETE FROM "{t}";' for t in tables)
            + "PRAGMA foreign_keys=ON;"
        )


def _lacks_privilege(error: OperationalError) -> bool:
    import asyncpg

    return isinstance(error.__cause__, asyncpg.InsufficientPrivilegeError)


def _url_of(conn: Any) -> str:
    return "asyncpg://" if conn.capabilities.dialect == "postgres" else "sqlite://"


@pytest_asyncio.fixture
async def tessera_db(tessera_runtime: Runtime) -> AsyncIterator[Runtime]:
    """The runtime, with every table emptied after the test."""
    from tessera.channels import triggers as channel_triggers
    from tessera.webhooks import triggers

    yield tessera_runtime
    await _empty_all_tables()
    # Brand ids come round again on SQLite: what was known of the last
    # test's brands must not answer for the next one's.
    triggers.forget()
    channel_triggers.forget()


async def make_brand(code: str, *, currency: str = "CNY", timezone: str = "Asia/Shanghai") -> Brand:
    from tessera.tenancy.models import Tenant

    tenant = await Tenant.get_or_none(code=f"t-{code}") or await create_tenant(f"t-{code}", code)
    return await create_brand(
        tenant.code, code, f"Brand {code.upper()}", currency=currency, timezone=timezone
    )


@pytest_asyncio.fixture
async def brand_a(tessera_db: Runtime) -> Brand:
    return await make_brand("brand-a")


@pytest_asyncio.fixture
async def brand_b(tessera_db: Runtime) -> Brand:
    return await make_brand("brand-b", currency="USD", timezone="America/New_York")


@pytest.fixture(scope="session")
def app(tessera_runtime: Runtime) -> Any:
    """The ASGI app on the session's runtime. Built once: building the GraphQL
    schema costs ~50 ms, and the app keeps no state between requests (the
    runtime and the database hold it all)."""
    from tessera.app import create_app

    return create_app(tessera_runtime.settings, runtime=tessera_runtime)


@pytest_asyncio.fixture
async def http(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client against the ASGI app, no credentials."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://tessera.test"
    ) as client:
        yield client


@pytest.fixture
def api_key() -> Callable[..., Awaitable[str]]:
    """``await api_key(brand, "read", "write")`` returns a new bearer token."""

    async def make(brand: Brand, *scopes: str) -> str:
        issued = await create_api_key(brand, "test key", list(scopes or ("admin",)))
        return issued.token

    return make


@pytest.fixture
def gql(http: httpx.AsyncClient) -> GqlCall:
    """``await gql(query, variables, token=...)``: the ``data``, failing the test
    on any GraphQL error unless ``errors_ok=True`` (then the whole response)."""

    async def call(
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str,
        errors_ok: bool = False,
    ) -> dict[str, Any]:
        response = await http.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {token}"},
        )
        body: dict[str, Any] = response.json()
        if errors_ok:
            return body
        assert response.status_code == 200, body
        assert not body.get("errors"), body["errors"]
        result: dict[str, Any] = body["data"]
        return result

    return call


@pytest.fixture
def register_plugin(tessera_runtime: Runtime) -> Iterator[Callable[[object, str], None]]:
    """``register_plugin(module_or_object, "name")`` for the duration of a test."""
    registered: list[str] = []

    def register(plugin: object, name: str) -> None:
        tessera_runtime.host.register(plugin, name)
        registered.append(name)

    yield register
    for name in registered:
        tessera_runtime.host.unregister(name)


@pytest.fixture
def enable_feature(tessera_db: Runtime) -> Callable[..., Awaitable[Any]]:
    """``await enable_feature(brand, "component_key", config={...}, slot=None)``:
    switch a component on for a brand through the features service (the same
    rules and validation as ``setFeature``); returns the feature as stored.
    A refusal raises :class:`tessera.DomainError` (``code``, ``message``,
    ``field``; :class:`tessera.DomainErrors` with ``errors`` for several
    invalid config fields at once), exactly what ``setFeature`` reports as
    ``UserError`` s."""
    from tessera.features.service import set_feature
    from tessera.scope import BrandScope

    async def enable(
        brand: Brand,
        component: str,
        *,
        config: dict[str, Any] | None = None,
        slot: str | None = None,
        enabled: bool = True,
    ) -> Any:
        view, _notes = await set_feature(
            BrandScope(brand), component, enabled=enabled, config=config, slot=slot
        )
        return view.feature

    return enable


@pytest.fixture
def emit_event(tessera_db: Runtime) -> Callable[..., Awaitable[None]]:
    """``await emit_event(brand, "member.joined", member_id="...")``: commit a
    domain event of that brand and deliver it to the plugins enabled there,
    exactly as a service's unit of work does."""
    from tessera.scope import BrandScope
    from tessera.uow import unit_of_work

    async def emit(brand: Brand, name: str, **payload: Any) -> None:
        async with unit_of_work(BrandScope(brand)) as uow:
            uow.emit(name, **payload)

    return emit


@dataclass(frozen=True)
class NewMember:
    """A member :func:`new_member` created, as a client or a plugin sees it."""

    id: str
    """The GraphQL ``ID`` (``member(id: ...)``, ``memberId`` inputs)."""
    pk: int
    """The integer id domain event payloads carry (``member_id``)."""
    card_number: str | None
    """None for a prospect (a member who has not joined yet)."""


@pytest.fixture
def new_member(tessera_db: Runtime) -> Callable[..., Awaitable[NewMember]]:
    """``await new_member(brand, name=..., phone=..., identities=[(kind, value)])``:
    a member created through the members service (validation, identities,
    card number and ``member.joined`` included), as a :class:`NewMember`.
    Bad input raises :class:`tessera.DomainError` naming the field."""
    from tessera.members.service import create_member
    from tessera.schema.ids import encode_id
    from tessera.scope import BrandScope

    async def make(brand: Brand, **profile: Any) -> NewMember:
        identities = profile.pop("identities", [])
        member = await create_member(BrandScope(brand), profile, identities=identities)
        return NewMember(encode_id("Member", member.id), member.id, member.card_number)

    return make


@pytest.fixture
def bulk_members(tessera_db: Runtime) -> Callable[..., Awaitable[list[int]]]:
    """``await bulk_members(brand, [{"email": ..., "phone": ..., "name": ...}, ...])``:
    members inserted in one statement (no service, no events), their ids in
    order; for tests that need hundreds of members quickly."""
    from datetime import UTC, datetime

    from tessera.members import pii
    from tessera.members.models import Member
    from tessera.reports.rollup import mark_dirty
    from tessera.scope import BrandScope

    async def make(brand: Brand, profiles: list[dict[str, Any]]) -> list[int]:
        scope = BrandScope(brand)
        now = datetime.now(UTC)
        stamp = f"bulk-{secrets.token_hex(4)}"
        rows = [
            scope.build(
                Member,
                external_id=f"{stamp}-{i}",
                name=profile.get("name", f"m{i}"),
                joined_at=now,
                **pii.seal_profile(
                    brand.id,
                    brand.identity_key_version,
                    {k: profile.get(k) for k in ("email", "phone")},
                ),
            )
            for i, profile in enumerate(profiles)
        ]
        await scope.insert_many(Member, rows)
        # As the service does: the member growth report's join day.
        await mark_dirty(scope, None, [now])
        found = await scope.query(Member).filter(external_id__startswith=f"{stamp}-")
        by_ref = {m.external_id: m.id for m in found}
        return [by_ref[f"{stamp}-{i}"] for i in range(len(profiles))]

    return make


@pytest.fixture
def static_segment(tessera_db: Runtime) -> Callable[..., Awaitable[Any]]:
    """``await static_segment(brand, name, member_ids)``: a static segment
    with exactly these members (rows written directly)."""
    from datetime import UTC, datetime

    from tessera.scope import BrandScope
    from tessera.segments.models import Segment, SegmentMembership

    async def make(brand: Brand, name: str, member_ids: list[int]) -> Segment:
        scope = BrandScope(brand)
        segment = await scope.create(Segment, name=name, kind="static", size=len(member_ids))
        now = datetime.now(UTC)
        await scope.insert_many(
            SegmentMembership,
            [
                scope.build(SegmentMembership, segment_id=segment.id, member_id=m, entered_at=now)
                for m in member_ids
            ],
        )
        return segment

    return make


async def drain_outbox() -> int:
    """Run every piece of follow-up work waiting in the outbox, the work it
    causes included (retries and delayed work too, without waiting for them);
    returns how many entries ran. A failing job ends failed after its tries,
    so this always returns."""
    from tessera import runtime

    return await runtime.current().outbox.drain(include_delayed=True)


@pytest.fixture(name="drain_outbox")
def drain_outbox_fixture(tessera_db: Runtime) -> Callable[[], Awaitable[int]]:
    """``await drain_outbox()``: run the follow-up work that commits left in
    the outbox (segment re-evaluation, activity rewards), as the API's
    background runner or a worker would, before asserting on its results."""
    return drain_outbox


class _RecorderComponent(PointsRule):
    key = "testing_event_recorder"
    title = "Event recorder"
    description = "Awards nothing; lets a test enable the recorder on a brand."

    async def points_for(self, fact: Any) -> int:
        return 0


class EventRecorder:
    """A plugin that records every domain event it receives, as any plugin
    enabled on the brand would receive it (after commit, that brand only)."""

    def __init__(self) -> None:
        self.received: list[DomainEvent] = []

    @hookimpl
    def tessera_register_points_rules(self) -> list[type[PointsRule]]:
        return [_RecorderComponent]

    @hookimpl
    def tessera_on_event(self, event: DomainEvent) -> None:
        self.received.append(event)

    def named(self, name: str) -> list[DomainEvent]:
        return [e for e in self.received if e.name == name]


@pytest.fixture
def record_events(
    register_plugin: Callable[[object, str], None],
) -> Callable[[Brand], Awaitable[EventRecorder]]:
    """``log = await record_events(brand)``: from then on ``log.received`` holds
    the domain events delivered to plugins on that brand (one recorder per test;
    call again to add another brand)."""
    from tessera.features.service import set_feature
    from tessera.scope import BrandScope

    recorder = EventRecorder()
    registered = False

    async def start(brand: Brand) -> EventRecorder:
        nonlocal registered
        if not registered:
            register_plugin(recorder, "testing-event-recorder")
            registered = True
        await set_feature(BrandScope(brand), _RecorderComponent.key, enabled=True)
        return recorder

    return start


@dataclass
class DatabaseLog:
    """What reached the database inside a :func:`record_database` block.

    ``round_trips`` holds one entry per call the application made to the
    driver (a query, an ``executemany``, a BEGIN/COMMIT/SAVEPOINT), each the
    list of statements it ran; ``statements`` is all of them in order. A
    ``bulk_create`` of 200 rows is one round trip and 200 or more statements.
    """

    round_trips: list[list[str]] = field(default_factory=list)
    # asyncpg's pool resets a connection on release (``SELECT
    # pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL;``): one more
    # round trip after each pooled use. Tessera's own pool skips it
    # (tessera.pg_client.PooledConnection), so this stays 0 unless a pool of another
    # connection class is in use. The pool's, not the code's: kept apart.
    pool_resets: int = 0
    # asyncpg looks a parameter's type up the first time a connection meets
    # it (the type query between switching JIT off and back: three round
    # trips, once per connection and type). Which pooled connection a block
    # gets decides whether it pays them: the driver's cache, not the code's
    # work, so kept apart too.
    type_lookups: int = 0

    @property
    def statements(self) -> list[str]:
        return [sql for trip in self.round_trips for sql in trip]

    def report(self) -> str:
        return "\n".join(
            f"{i}: " + " | ".join(s[:200] for s in trip) for i, trip in enumerate(self.round_trips)
        )


class _SqliteTrace:
    """SQLite: each hop of aiosqlite onto its connection thread is one round
    trip; ``sqlite3``'s trace callback, set inside that thread, sees every
    statement the hop runs (each row of an ``executemany`` included)."""

    def __init__(self, log: DatabaseLog) -> None:
        self.log = log
        self.original = aiosqlite.Connection._execute

    def __enter__(self) -> None:
        log, original = self.log, self.original

        async def execute(conn: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
            trip: list[str] = []

            def run() -> Any:
                conn._conn.set_trace_callback(trip.append)
                try:
                    return fn(*args, **kwargs)
                finally:
                    conn._conn.set_trace_callback(None)
                    if trip:
                        log.round_trips.append(trip)

            return await original(conn, run)

        aiosqlite.Connection._execute = execute  # type: ignore[method-assign,assignment]

    def __exit__(self, *exc: object) -> None:
        aiosqlite.Connection._execute = self.original  # type: ignore[method-assign]


_TYPE_LOOKUP = (
    asyncpg.introspection.INTRO_LOOKUP_TYPES,
    asyncpg.introspection.INTRO_LOOKUP_TYPES_13,
    asyncpg.introspection.TYPE_BY_NAME,
)


class _AsyncpgTrace:
    """PostgreSQL: asyncpg's query logger (0.29+) on every pooled connection
    the block uses. One logged call is one round trip; an ``executemany``'s
    argument sets are its statements."""

    def __init__(self, log: DatabaseLog, pool: Any) -> None:
        self.log = log
        self.pool = pool
        self.original = asyncpg.pool.PoolConnectionHolder.acquire
        self.reset_query: str | None = None

    def record(self, query: Any) -> None:
        if query.query == self.reset_query:
            self.log.pool_resets += 1
            return
        if (
            query.query in _TYPE_LOOKUP
            or "current_setting('jit')" in query.query
            or ("set_config('jit'" in query.query)
        ):
            self.log.type_lookups += 1
            return
        many = not isinstance(query.args, tuple)  # executemany passes its list of rows
        self.log.round_trips.append([query.query] * (len(query.args) if many else 1))

    def __enter__(self) -> None:
        record, original = self.record, self.original

        async def acquire(holder: Any) -> Any:
            proxy = await original(holder)
            self.reset_query = holder._con.get_reset_query()
            holder._con.add_query_logger(record)
            return proxy

        asyncpg.pool.PoolConnectionHolder.acquire = acquire  # type: ignore[method-assign]
        for holder in self.pool._holders:
            if holder._con is not None:
                self.reset_query = holder._con.get_reset_query()
                holder._con.add_query_logger(record)

    def __exit__(self, *exc: object) -> None:
        asyncpg.pool.PoolConnectionHolder.acquire = self.original  # type: ignore[method-assign]
        for holder in self.pool._holders:
            if holder._con is not None:
                holder._con.remove_query_logger(self.record)


@asynccontextmanager
async def record_database() -> AsyncIterator[DatabaseLog]:
    """Record every statement and round trip that reaches the database inside
    the block (transactions' BEGIN, COMMIT and SAVEPOINTs included)."""
    log = DatabaseLog()
    client = connections.get("default")
    pool = getattr(client, "_pool", None)
    trace: _SqliteTrace | _AsyncpgTrace = (
        _AsyncpgTrace(log, pool) if pool is not None else _SqliteTrace(log)
    )
    with trace:
        yield log
        await asyncio.sleep(0)  # asyncpg hands log records over with call_soon


@pytest.fixture
def assert_round_trips() -> Callable[[int], AbstractAsyncContextManager[DatabaseLog]]:
    """``async with assert_round_trips(3): ...`` fails unless the block makes
    exactly that many calls to the database (a page, a batch: what latency costs)."""

    @asynccontextmanager
    async def check(expected: int) -> AsyncIterator[DatabaseLog]:
        async with record_database() as log:
            yield log
        assert len(log.round_trips) == expected, (
            f"expected {expected} round trips, got {len(log.round_trips)}:\n{log.report()}"
        )

    return check


@pytest.fixture
def assert_statements() -> Callable[[int], AbstractAsyncContextManager[DatabaseLog]]:
    """``async with assert_statements(3): ...`` fails unless the database runs
    exactly that many statements in the block (each row of a bulk insert counts)."""

    @asynccontextmanager
    async def check(expected: int) -> AsyncIterator[DatabaseLog]:
        async with record_database() as log:
            yield log
        assert len(log.statements) == expected, (
            f"expected {expected} statements, got {len(log.statements)}:\n{log.report()}"
        )

    return check


def pytest_report_header(config: pytest.Config) -> str:
    url = os.environ.get("TESSERA_TEST_DATABASE_URL") or "sqlite (temporary file)"
    redis = os.environ.get("TESSERA_TEST_REDIS_URL") or "none (jobs inline)"
    return f"tessera: database {url}; redis {redis}; CI={_ci()}"


TESSERA_CLI = Path(sys.executable).parent / "tessera"


def cli_environment(database_url: str, var_dir: Path) -> dict[str, str]:
    """The environment of a ``tessera`` command run by a test: the test
    process's without its ``TESSERA_*``, on ``database_url`` with the test
    secret and plain-text logs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    env.update(
        TESSERA_DATABASE_URL=database_url,
        TESSERA_VAR_DIR=str(var_dir),
        TESSERA_SECRET_KEY=TEST_SECRET_KEY,
        TESSERA_ENVIRONMENT="test",
        TESSERA_LOG_JSON="false",
    )
    return env


async def run_cli(
    database_url: str, var_dir: Path, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """Run the ``tessera`` command in a child process, as an operator would
    (:func:`cli_environment`)."""
    return await asyncio.to_thread(
        subprocess.run,
        [str(TESSERA_CLI), *args],
        env=cli_environment(database_url, var_dir),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


@contextmanager
def local_http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 at a free port, ``handler`` answering
    each request in a thread of its own; yields ``http://127.0.0.1:<port>``
    and stops the server when the block ends."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    # shutdown() waits for serve_forever's next look at its stop flag: with
    # the default half-second poll that was half a second per test.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass
class ProviderRequest:
    """A request :class:`ProviderServer` received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    """lower-cased names"""
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Answer = tuple[int, Any]
"""What :class:`ProviderServer` answers: the status, and a JSON-able body or raw bytes."""


@dataclass
class ProviderServer:
    """A provider's API as a local HTTP server (see :func:`provider_server`):
    ``answer`` turns each request into an :data:`Answer`; ``requests`` holds
    what it was sent."""

    url: str = ""
    requests: list[ProviderRequest] = field(default_factory=list)
    answer: Callable[[ProviderRequest], Answer] = lambda request: (200, {})
    # Set when the server stops: a handler told to hang (a timeout test) returns then.
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hang(self) -> Answer:
        self.release.wait(30)
        return 200, {}

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]


@contextmanager
def provider_server() -> Iterator[ProviderServer]:
    """A :class:`ProviderServer` answering GET and POST (HTTP/1.1) until the block ends."""
    state = ProviderServer()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            parts = urlsplit(self.path)
            request = ProviderRequest(
                self.command,
                parts.path,
                {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()},
                {k.lower(): v for k, v in self.headers.items()},
                body,
            )
            with state.lock:
                state.requests.append(request)
            status, payload = state.answer(request)
            raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("content-type", "application/json; charset=utf-8")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)
            except OSError:
                pass  # the client gave up (a timeout test)

        do_GET = do_POST = _serve

        def log_message(self, format: str, *args: object) -> None:
            pass

    with local_http_server(Handler) as url:
        state.url = url
        try:
            yield state
        finally:
            state.release.set()


@dataclass
class ReceivedWebhook:
    path: str
    headers: dict[str, str]
    """lower-cased names"""
    body: bytes


@dataclass
class WebhookReceiver:
    url: str
    status: int = 200
    """what it answers; set it to make deliveries fail"""
    received: list[ReceivedWebhook] = field(default_factory=list)


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """A real HTTP server on 127.0.0.1 (a thread) for webhook deliveries:
    ``webhook_receiver.url`` to subscribe, ``.received`` what it was sent,
    ``.status`` what it answers (200). The test settings let webhooks reach
    loopback addresses (``webhook_allow_private_networks``)."""
    state = WebhookReceiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            state.received.append(ReceivedWebhook(self.path, headers, body))
            self.send_response(state.status)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            pass

    with local_http_server(Handler) as base:
        state.url = f"{base}/hooks"
        yield state
