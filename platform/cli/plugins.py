"""What the plugin host found installed."""

from __future__ import annotations

import typer
from rich.table import Table

from tessera.bootstrap import build_host
from tessera.cli.runner import out, settings

app = typer.Typer()


@app.command(rich_help_panel="Develop")
def plugins() -> None:
    """List installed plugins and the components each contributes."""
    host = build_host(settings())
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
