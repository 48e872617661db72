"""Schema migrations: applying the committed ones, writing new ones."""

from __future__ import annotations

import asyncio

import typer

from tessera import migrations_tool
from tessera.cli.runner import BAD_INPUT, fail, out, progress_bar, settings

app = typer.Typer()


@app.command(rich_help_panel="Database")
def migrate() -> None:
    """Apply the committed migrations to TESSERA_DATABASE_URL (safe to repeat)."""
    cfg = settings()
    applied: list[str] = []
    with progress_bar() as progress:
        task = progress.add_task("migrating", total=None)

        def planned(names: list[str]) -> None:
            progress.update(task, total=len(names))

        def step(event: str, app_label: str, name: str) -> None:
            if event == "apply_start":
                progress.update(task, description=f"applying {app_label}.{name}")
            elif event == "apply_done":
                applied.append(f"{app_label}.{name}")
                progress.advance(task)
                progress.console.print(f"applied {applied[-1]}")

        try:
            asyncio.run(migrations_tool.apply(cfg.database_url, progress=step, planned=planned))
        except OSError as exc:
            fail(f"cannot reach the database: {exc}")
    out.print(f"database is up to date ({len(applied)} migration(s) applied)")


@app.command(rich_help_panel="Database")
def makemigrations(
    name: str | None = typer.Option(None, help="Suffix for the file name, e.g. add_member_tags."),
) -> None:
    """Write a migration for model changes (developers; commit the file)."""
    if name is not None and not name.isidentifier():
        fail("--name must be letters, digits and underscores", BAD_INPUT)
    written = asyncio.run(migrations_tool.make(name=name))
    if not written:
        out.print("no changes: the migrations match the models")
    for path in written:
        out.print(f"wrote {path}")
