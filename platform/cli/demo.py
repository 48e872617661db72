"""`tessera demo`: the data behind `make run`."""

from __future__ import annotations

import typer

from tessera.cli.runner import CLI_ACTOR, err, out, progress_bar, run
from tessera.config import Settings
from tessera.demo import ensure_demo, ensure_demo_admin
from tessera.demo_data import generate
from tessera.scope import BrandScope

app = typer.Typer()


@app.command(rich_help_panel="Run")
def demo(
    members: int = typer.Option(
        0, "--members", min=0, help="Also generate this many members with two years of history."
    ),
    seed: int = typer.Option(1, "--seed", help="Same seed, same members (rerunning adds none)."),
) -> None:
    """Ensure the demo tenant, brand, admin API key and admin UI owner exist (prints a new key)."""

    async def work(cfg: Settings) -> None:
        setup = await ensure_demo(cfg.var_dir)
        if setup.key_created:
            err.print(f"created demo admin key (kept in {setup.key_file}):")
            out.print(setup.token)
        else:
            err.print(f"demo brand and key exist (key in {setup.key_file})")
        email, _ = await ensure_demo_admin(setup.brand, cfg.var_dir)
        err.print(f"admin UI user {email}, password in {cfg.var_dir / 'demo_admin_password'}")
        if members:
            with progress_bar() as bar:
                task = bar.add_task("demo members", total=members)
                report = await generate(
                    BrandScope(setup.brand, CLI_ACTOR),
                    members,
                    seed=seed,
                    progress=lambda _, done, total: bar.update(task, completed=done, total=total),
                )
            if report.skipped:
                err.print(f"demo members of seed {seed} exist already")
            else:
                err.print(
                    f"generated {report.members} members, {report.orders} orders, "
                    f"{report.refunds} refunds, {report.events} events"
                )

    run(work)
