"""``tessera report TYPE --brand CODE --param key=value …``: run a report type
enabled on a brand and print its figures and tables in the terminal."""

from __future__ import annotations

from datetime import date

import typer
from rich.table import Table as RichTable

from tessera.cli.runner import brand_scope, out, progress_bar, run
from tessera.config import Settings
from tessera.errors import DomainError
from tessera.orders.money import exponent
from tessera.reports import flows
from tessera.reports.api import Unit
from tessera.reports.format import shown
from tessera.reports.rollup import build
from tessera.reports.service import run_report

app = typer.Typer()


@app.command(rich_help_panel="Data")
def report(
    type: str = typer.Argument(help="A report type key, e.g. reports.sales."),
    brand: str = typer.Option(..., help="Code of the brand."),
    param: list[str] = typer.Option(
        [],
        "--param",
        "-p",
        help="A parameter as key=value (start=2025-01-01, end=2025-12-31, comparison=yoy, "
        "granularity=month, store=S1, ...); repeat for more.",
    ),
) -> None:
    """Print a report's figures and tables (see docs/reports.md)."""
    params: dict[str, str] = {}
    for item in param:
        name, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"{item!r} is not key=value", param_hint="--param")
        params[name.strip()] = value.strip()

    async def work(_: Settings) -> None:
        scope = await brand_scope(brand)
        if "start" not in params or "end" not in params:
            raise DomainError("REQUIRED", "give --param start=YYYY-MM-DD and end=…", ["params"])
        done = await run_report(scope, type, params)
        exp = exponent(scope.brand.currency)

        def show(value: object, unit: Unit) -> str:
            return shown(value, unit, exp, scope.brand.currency)

        result = done.result
        figures = RichTable(title=f"{done.type.title}: {done.params.start} – {done.params.end}")
        figures.add_column("figure")
        figures.add_column("value", justify="right")
        compared = any(f.previous is not None for f in result.figures)
        targeted = any(f.target is not None for f in result.figures)
        if compared:
            figures.add_column(f"{done.params.comparison.value}", justify="right")
            figures.add_column("change", justify="right")
        if targeted:
            figures.add_column("target", justify="right")
            figures.add_column("reached", justify="right")
        for f in result.figures:
            row = [f.label, show(f.value, f.unit)]
            if compared:
                row += [show(f.previous, f.unit), show(f.change, Unit.RATIO)]
            if targeted:
                row += [show(f.target, f.unit), show(f.progress, Unit.RATIO)]
            figures.add_row(*row)
        out.print(figures)
        for table in result.tables:
            printed = RichTable(title=table.label)
            for column in table.columns:
                printed.add_column(
                    column.label, justify="left" if column.unit is Unit.TEXT else "right"
                )
            for values in table.rows:
                printed.add_row(
                    *(
                        "" if v is None else show(v, c.unit)
                        for v, c in zip(values, table.columns, strict=True)
                    )
                )
            out.print(printed)
        for note in result.notes:
            out.print(note)

    run(work, follow_up=False)


reports = typer.Typer(name="reports", help="Report rollups.", no_args_is_help=True)
app.add_typer(reports, rich_help_panel="Data")


@reports.command()
def rollup(
    brand: str = typer.Option(..., help="Code of the brand."),
    since: str = typer.Option(
        "",
        help="Rebuild only from this local day (YYYY-MM-DD); default: the whole history, "
        "after which reports read the rollup.",
    ),
) -> None:
    """(Re)build the brand's sales rollups and buyer counts from its orders, and store the
    stage flows of its ended months and years (docs/reports.md)."""

    async def work(_: Settings) -> None:
        scope = await brand_scope(brand)
        try:
            first = date.fromisoformat(since) if since else None
        except ValueError as exc:
            raise DomainError("INVALID", "since is not YYYY-MM-DD", ["since"]) from exc
        with progress_bar() as bar:
            task = bar.add_task("days rolled up", total=None)
            days = await build(
                scope, first, lambda done, total: bar.update(task, completed=done, total=total)
            )
        out.print(f"{days} days rolled up for {scope.brand.code}")
        # The history's stage flows at once (the job does a few a tick).
        periods = await flows.refresh(scope)
        out.print(f"{periods} months and years of stage flows stored")

    run(work, follow_up=False)
