"""``tessera import members|orders FILE.csv``: bring an old CRM's data in.

Exit codes (docs/import.md): 0 every row went in (or was already there),
3 some rows were refused and written to the rejects file, 2 bad usage (no
such file or brand, columns that cannot be imported), 1 failure, 130
interrupted (Ctrl-C). An interrupted or failed import is resumed by running
the same command again: the batches that went in are recognised in bulk.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from tessera.cli.runner import BAD_INPUT, brand_scope, err, fail, out, run
from tessera.collector import freeze_start_up
from tessera.config import Settings
from tessera.importing import members, orders
from tessera.importing.csv_rows import CsvHeaderError, CsvSource
from tessera.importing.rejects import RejectsFile
from tessera.importing.report import ImportReport, OnProgress
from tessera.members.attributes import definitions_by_key
from tessera.scope import BrandScope
from tessera.slots import catalogue

SOME_REJECTED = 3
INTERRUPTED = 130  # as a shell reports a process stopped by Ctrl-C

app = typer.Typer()
imports = typer.Typer(
    name="import",
    help="Import members, orders or catalogue items from CSV files.",
    no_args_is_help=True,
)
app.add_typer(imports, rich_help_panel="Data")

FILE = typer.Argument(..., help="The CSV file (UTF-8, header row; see docs/import.md).")
BRAND = typer.Option(..., "--brand", help="Code of the brand to import into.")
REJECTS = typer.Option(
    None, "--rejects", help="Where refused rows go (default: FILE.rejects.csv beside FILE)."
)
BATCH = typer.Option(None, "--batch-size", min=1, max=1000, help="Rows checked per batch.")

Importer = Callable[[BrandScope, CsvSource, RejectsFile, OnProgress], Awaitable[ImportReport]]


@imports.command("members")
def import_members(
    file: Path = FILE,
    brand: str = BRAND,
    rejects: Path | None = REJECTS,
    batch_size: int | None = BATCH,
) -> None:
    """Members: matched to existing ones by any identity, created otherwise."""

    async def go(
        scope: BrandScope, source: CsvSource, refused: RejectsFile, step: OnProgress
    ) -> ImportReport:
        members.check_header(source.header, await definitions_by_key(scope))
        return await members.import_members(
            scope, source, refused, batch_size=batch_size or members.BATCH_SIZE, progress=step
        )

    _import(file, brand, rejects, "member", go)


@imports.command("orders")
def import_orders(
    file: Path = FILE,
    brand: str = BRAND,
    rejects: Path | None = REJECTS,
    batch_size: int | None = BATCH,
) -> None:
    """Orders, one row per line item; replayed orders change nothing."""

    async def go(
        scope: BrandScope, source: CsvSource, refused: RejectsFile, step: OnProgress
    ) -> ImportReport:
        orders.check_header(source.header)
        return await orders.import_orders(
            scope, source, refused, batch_size=batch_size or orders.BATCH_SIZE, progress=step
        )

    _import(file, brand, rejects, "order", go)


@imports.command("items")
def import_items(
    file: Path = FILE,
    brand: str = BRAND,
    rejects: Path | None = REJECTS,
    batch_size: int | None = BATCH,
) -> None:
    """Catalogue items (sku, name, category, tags, price, active), upserted by sku."""

    async def go(
        scope: BrandScope, source: CsvSource, refused: RejectsFile, step: OnProgress
    ) -> ImportReport:
        catalogue.check_header(source.header)
        return await catalogue.import_items(
            scope, source, refused, batch_size=batch_size or catalogue.BATCH_SIZE, progress=step
        )

    _import(file, brand, rejects, "item", go)


def _import(file: Path, brand: str, rejects: Path | None, noun: str, importer: Importer) -> None:
    if not file.is_file():
        fail(f"no such file: {file}", BAD_INPUT)
    rejects_path = rejects or file.with_name(file.stem + ".rejects.csv")

    async def work(_: Settings) -> ImportReport:
        scope = await brand_scope(brand)
        # A long-lived process, as the server and the worker (a million rows
        # make hundreds of full collections): what start-up built is frozen.
        freeze_start_up()
        try:
            source = CsvSource(file)
        except CsvHeaderError as exc:
            fail(str(exc), BAD_INPUT)
        # A rejects file left by an earlier run would be mistaken for this one's.
        rejects_path.unlink(missing_ok=True)
        with _progress() as progress, RejectsFile(rejects_path, source.header) as refused:
            task = progress.add_task(f"{noun}s", total=source.size, rows=0)

            def step(rows: int) -> None:
                progress.update(task, completed=source.bytes_read, rows=rows)

            try:
                report = await importer(scope, source, refused, step)
            except CsvHeaderError as exc:
                source.close()
                fail(str(exc), BAD_INPUT)
            progress.update(task, completed=source.size)
        return report

    try:
        report = run(work)
    except KeyboardInterrupt:
        err.print(
            "interrupted: the batches imported so far are in; run the same command again "
            "to import the rest (rows already there are skipped)"
        )
        raise typer.Exit(INTERRUPTED) from None
    out.print(
        f"{report.rows} row(s): {report.created} {noun}(s) created, {report.unchanged} already "
        f"there, {report.rejected} row(s) rejected"
    )
    if report.rejected:
        err.print(f"rejected rows and why: {rejects_path}")
        raise typer.Exit(SOME_REJECTED)


class _RowsPerSecond(ProgressColumn):
    """Rows imported so far and their rate (the bar itself follows the bytes
    read, the only measure of the whole file known before it is read)."""

    def render(self, task: Task) -> Text:
        rows = int(task.fields.get("rows", 0))
        elapsed = task.elapsed or 0.0
        rate = f"{rows / elapsed:,.0f} rows/s" if elapsed > 0 and rows else "- rows/s"
        return Text(f"{rows:,} rows, {rate}")


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        _RowsPerSecond(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err,
    )
