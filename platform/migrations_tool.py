"""Writing and applying the committed schema migrations (Tortoise's own)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tortoise import Tortoise
from tortoise.migrations.api import migrate as migrate_api
from tortoise.migrations.autodetector import MigrationAutodetector
from tortoise.migrations.executor import PlanStep

from tessera.db import APP_LABEL, ensure_sqlite_dir, tortoise_config


async def apply(
    database_url: str,
    progress: Callable[[str, str, str], object] | None = None,
    planned: Callable[[list[str]], object] | None = None,
) -> None:
    """Bring the database up to the latest migration. Safe to run repeatedly.

    ``planned`` receives the names of the migrations about to run (before any
    runs), ``progress`` each ``(event, app_label, name)`` as they do.
    """
    config = tortoise_config(database_url)
    ensure_sqlite_dir(database_url)

    def report(connection: str, steps: list[PlanStep], fake: bool, dry_run: bool) -> None:
        assert planned is not None
        planned([f"{s.migration.app_label}.{s.migration.name}" for s in steps])

    try:
        await migrate_api(config=config, progress=progress, reporter=report if planned else None)
    finally:
        await Tortoise.close_connections()


async def make(database_url: str = "sqlite://:memory:", name: str | None = None) -> list[str]:
    """Write a migration for model changes; returns the files written."""
    config = tortoise_config(database_url)
    apps: dict[str, Any] = config["apps"]
    await Tortoise.init(config=config)
    try:
        writers = await MigrationAutodetector(Tortoise.apps, apps).changes()
        paths = []
        for writer in writers:
            if name:
                number = writer.name.split("_", 1)[0]
                writer.name = f"{number}_{name}"
            paths.append(str(writer.write()))
        return paths
    finally:
        await Tortoise.close_connections()


__all__ = ["APP_LABEL", "apply", "make"]
