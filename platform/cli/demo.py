"""`tessera demo`: the data behind `make run`."""

from __future__ import annotations

import typer

from tessera.cli.runner import err, out, run
from tessera.config import Settings
from tessera.demo import ensure_demo

app = typer.Typer()


@app.command(rich_help_panel="Run")
def demo() -> None:
    """Ensure the demo tenant, brand and admin API key exist (prints a new key)."""

    async def work(cfg: Settings) -> None:
        setup = await ensure_demo(cfg.var_dir)
        if setup.key_created:
            err.print(f"created demo admin key (kept in {setup.key_file}):")
            out.print(setup.token)
        else:
            err.print(f"demo brand and key exist (key in {setup.key_file})")
        # The member-data generator (`tessera demo --members N`) plugs in here:
        # add the option above and call its service with `setup.brand`.

    run(work)
