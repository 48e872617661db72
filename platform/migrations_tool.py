"""Writing and applying the committed schema migrations (Tortoise's own)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tortoise import Tortoise
from tortoise.migrations.api import migrate as migrate_api
from tortoise.migrations.autodetector import MigrationAutodetector

from tessera.db import APP_LABEL, tortoise_config


async def apply(database_url: str, progress: Callable[[str, str, str], object] | None = None) -> None:
    """Bring the database up to the latest migration. Safe to run repeatedly."""
    config = tortoise_config(database_url)
    try:
        await migrate_api(config=config, progress=progress)
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
