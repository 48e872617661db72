"""Fixtures come from the ``tessera.testing`` pytest plugin (installed with
Tessera), exactly as a partner's plugin tests get them."""

import asyncio
import os

import pytest
from hypothesis import HealthCheck, Phase, settings

from tessera import db

# What every property test here shares: no example database (a .hypothesis
# folder in the checkout, which pytest would trip on), no deadline (examples
# talk to a real database on a shared machine), and function-scoped fixtures
# (the brand or loop a test's examples share) allowed.
settings.register_profile(
    "tessera",
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile("tessera")
# For examples that build brands in the database: shrinking a failure would
# take minutes, so the failing example is reported as found.
settings.register_profile(
    "database-examples",
    settings.get_profile("tessera"),
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # A behaviour only one database has (PostgreSQL's row locks and roles,
    # SQLite's file-wide write lock) is proven on that database's run of the
    # suite. On the other it is not a test that could not run but one that does
    # not apply: deselected (and counted as such), not skipped, so a skip
    # always means a promise not kept.
    other = (
        "sqlite_only"
        if db.is_postgres(os.environ.get("TESSERA_TEST_DATABASE_URL", ""))
        else "postgres_only"
    )
    kept = [item for item in items if not item.get_closest_marker(other)]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept


@pytest.fixture
async def session_loop() -> asyncio.AbstractEventLoop:
    """The session's event loop, for hypothesis tests: ``@given`` cannot wrap a
    coroutine, so such a test is a plain function that runs each example on
    this loop, where the session's database connections live."""
    return asyncio.get_running_loop()
