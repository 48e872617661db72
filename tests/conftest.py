"""Fixtures come from the ``tessera.testing`` pytest plugin (installed with
Tessera), exactly as a partner's plugin tests get them."""

import os

import pytest

from tessera import db


def pytest_runtest_setup(item: pytest.Item) -> None:
    # A behaviour only PostgreSQL has (row locks, roles) is proven on the
    # PostgreSQL run of the suite; the SQLite run has nothing to show.
    server = os.environ.get("TESSERA_TEST_DATABASE_URL", "")
    if item.get_closest_marker("postgres_only") and not db.is_postgres(server):
        pytest.skip("PostgreSQL behaviour: run with TESSERA_TEST_DATABASE_URL=postgresql://...")
