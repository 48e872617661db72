"""``tessera ledger verify``: check that every account of a brand agrees with
its ledger (balance = sum of entries, lots consistent)."""

from __future__ import annotations

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tessera.assets.verify import Problem, count_accounts, verify_brand
from tessera.cli.runner import brand_scope, err, out, run
from tessera.config import Settings

app = typer.Typer()
ledger = typer.Typer(
    name="ledger", help="Members' points, stored value and growth ledgers.", no_args_is_help=True
)
app.add_typer(ledger, rich_help_panel="Data")

DIFFERENCES = 1


@ledger.command()
def verify(brand: str = typer.Option(..., help="Code of the brand to check.")) -> None:
    """Check every account of a brand: its balance equals the sum of its
    entries, its newest entry's balance_after equals the balance, and its
    points lots hold what the balance and the pending points say.

    Exits 0 when all agree, 1 listing every difference, 2 for an unknown brand.
    """

    async def work(_: Settings) -> list[Problem]:
        scope = await brand_scope(brand)
        total = await count_accounts(scope)
        problems: list[Problem] = []
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
        ) as progress:
            task = progress.add_task(f"{brand}: accounts", total=total)
            async for problem in verify_brand(scope, progress=lambda n: progress.advance(task, n)):
                problems.append(problem)
        for problem in problems:
            out.print(str(problem))
        accounts_with = len({p.account_id for p in problems})
        out.print(
            f"{brand}: {total} account(s) checked, "
            + (f"{accounts_with} with differences" if problems else "all consistent")
        )
        return problems

    if run(work):
        raise typer.Exit(DIFFERENCES)
