"""The brand's item catalogue, fed by ``tessera import items`` (CSV, read as
a stream in batches) and by order lines (:func:`tessera.slots.model.add_unknown_items`).

Columns: ``sku`` (required), ``name``, ``category``, ``tags`` (``a;b``),
``price`` (decimal in the brand's currency), ``active`` (true/false). A row
for a known sku replaces the columns the file has; a refused row goes to the
rejects file with its reason and the import goes on."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tessera.errors import DomainError, DomainErrors
from tessera.importing.csv_rows import (
    CsvHeaderError,
    CsvRow,
    cell_bool,
    cell_list,
    prepared_batches,
)
from tessera.importing.rejects import RejectsFile, reason_of
from tessera.importing.report import ImportReport, OnProgress
from tessera.orders.money import MoneyAmount, parse_amount, to_minor
from tessera.scope import BrandScope
from tessera.slots.models import CatalogueItem
from tessera.uow import unit_of_work

COLUMNS = ("sku", "name", "category", "tags", "price", "active")
BATCH_SIZE = 1000
LIMITS = {"sku": 64, "name": 200, "category": 100}


def check_header(header: list[str]) -> None:
    unknown = [c for c in header if c not in COLUMNS]
    problems = []
    if unknown:
        problems.append("unknown column(s): " + ", ".join(unknown))
    if "sku" not in header:
        problems.append("missing column: sku")
    if problems:
        raise CsvHeaderError("; ".join(problems) + "; see docs/slots.md")


def tag_text(tags: Iterable[str]) -> str:
    """The tags as ``,a,b,`` for a LIKE match that works on both databases."""
    tags = list(tags)
    return "," + ",".join(tags) + "," if tags else ""


def parse_row(row: CsvRow, currency: str) -> dict[str, Any]:
    """An item's fields from one row; DomainErrors naming the columns."""
    values = row.values
    problems: list[DomainError] = []
    item: dict[str, Any] = {}
    for column, limit in LIMITS.items():
        if column in values:
            text = values[column].strip()
            if len(text) > limit:
                problems.append(DomainError("TOO_LONG", f"at most {limit} characters", [column]))
            item[column] = text or (None if column == "category" else "")
    if not item.get("sku"):
        problems.append(DomainError("REQUIRED", "a sku is required", ["sku"]))
    if "tags" in values:
        item["tags"] = cell_list(values["tags"])
        if any("," in t for t in item["tags"]):
            problems.append(DomainError("INVALID", "a tag cannot hold a comma", ["tags"]))
        item["tag_text"] = tag_text(item["tags"])
    if values.get("price", "").strip():
        try:
            amount = parse_amount(values["price"].strip(), ["price"])
            item["price"] = to_minor(MoneyAmount(amount, currency), currency, ["price"])
        except DomainError as exc:
            problems.append(DomainError(exc.code, exc.message, ["price"]))
    if values.get("active", "").strip():
        try:
            item["active"] = cell_bool(values["active"], "active")
        except DomainError as exc:
            problems.append(exc)
    if problems:
        raise DomainErrors(problems)
    return item


async def import_items(
    scope: BrandScope,
    rows: Iterable[CsvRow],
    rejects: RejectsFile,
    *,
    batch_size: int = BATCH_SIZE,
    progress: OnProgress | None = None,
) -> ImportReport:
    """Upsert items by sku, a batch at a time: one read of the batch's known
    skus, one multi-row insert, one update statement per changed column set."""
    report = ImportReport()
    currency = scope.brand.currency

    def prepare(batch: list[CsvRow]) -> list[tuple[CsvRow, dict[str, Any] | DomainError]]:
        prepared: list[tuple[CsvRow, dict[str, Any] | DomainError]] = []
        for row in batch:
            try:
                prepared.append((row, parse_row(row, currency)))
            except DomainError as exc:
                prepared.append((row, exc))
        return prepared

    async for batch, prepared in prepared_batches(rows, batch_size, prepare):
        report.rows += len(batch)
        good: dict[str, dict[str, Any]] = {}
        for row, parsed in prepared:
            if isinstance(parsed, DomainError):
                rejects.add(row.line, reason_of(parsed), row.values)
                report.rejected += 1
            else:
                # A sku twice in one batch: the later row wins, as in the file.
                good[parsed["sku"]] = parsed
        if good:
            async with unit_of_work(scope) as uow:
                existing = {
                    row.sku: row
                    for row in await scope.query(CatalogueItem)
                    .using_db(uow.connection)
                    .filter(sku__in=list(good))
                }
                fresh = [
                    scope.build(CatalogueItem, **{"tags": [], "tag_text": "", **values})
                    for sku, values in good.items()
                    if sku not in existing
                ]
                await scope.insert_many(
                    CatalogueItem, fresh, using_db=uow.connection, ignore_conflicts=True
                )
                changed: dict[tuple[str, ...], list[CatalogueItem]] = {}
                for sku, item in existing.items():
                    fields = tuple(sorted(k for k in good[sku] if k != "sku"))
                    for name in fields:
                        setattr(item, name, good[sku][name])
                    if fields:
                        changed.setdefault(fields, []).append(item)
                for fields, rows_ in changed.items():
                    await scope.update_many(CatalogueItem, rows_, fields, using_db=uow.connection)
            report.created += len(fresh)
            report.unchanged += len(good) - len(fresh)
        rejects.flush()
        if progress is not None:
            progress(report.rows)
    return report
