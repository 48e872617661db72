"""Fixtures come from the ``tessera.testing`` pytest plugin (installed with
Tessera), exactly as a partner's plugin tests get them."""

import os

import pytest

from tessera import db


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # A behaviour only PostgreSQL has (row locks, roles) is proven on the
    # PostgreSQL run of the suite. On SQLite it is not a test that could not
    # run but one that does not apply: deselected (and counted as such), not
    # skipped, so a skip always means a promise not kept.
    if db.is_postgres(os.environ.get("TESSERA_TEST_DATABASE_URL", "")):
        return
    kept = [item for item in items if not item.get_closest_marker("postgres_only")]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept
