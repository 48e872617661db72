"""The published GraphQL contract."""

from __future__ import annotations

import sys

import typer

app = typer.Typer()


@app.command(rich_help_panel="Develop")
def export_schema() -> None:
    """Print the GraphQL SDL (the content of schema/schema.graphql) to stdout."""
    from tessera.schema import export_sdl

    sys.stdout.write(export_sdl())
