"""What the plugin host found installed."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.table import Table

from tessera.bootstrap import build_host
from tessera.cli.runner import out, settings
from tessera.plugin_host.manager import PluginInfo

app = typer.Typer()


@app.command(rich_help_panel="Develop")
def plugins(
    as_json: bool = typer.Option(
        False, "--json", help="Print JSON (whole keys and config schemas) instead of a table."
    ),
) -> None:
    """List installed plugins and the components each contributes."""
    host = build_host(settings())
    if as_json:
        # Plain stdout: a table's columns are cut to the terminal's width.
        typer.echo(json.dumps([_as_dict(p) for p in host.plugins()], indent=2))
        return
    table = Table("plugin", "version", "family", "component", "title", title="Installed plugins")
    for plugin in host.plugins():
        if not plugin.components:
            table.add_row(plugin.name, plugin.version or "", "", "(no components)", "")
        for i, component in enumerate(plugin.components):
            table.add_row(
                plugin.name if i == 0 else "",
                (plugin.version or "") if i == 0 else "",
                component.family.value,
                component.key,
                component.cls.title,
            )
    out.print(table)


def _as_dict(plugin: PluginInfo) -> dict[str, Any]:
    return {
        "name": plugin.name,
        "version": plugin.version,
        "components": [
            {
                "key": c.key,
                "family": c.family.value,
                "title": c.cls.title,
                "description": c.cls.description,
                "channel": getattr(c.cls, "channel", None),
                "secret_fields": sorted(c.cls.secret_fields()),
                "config_schema": c.cls.config_schema(),
            }
            for c in plugin.components
        ],
    }
