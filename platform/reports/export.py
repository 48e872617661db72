"""Report tables as files: CSV (UTF-8 with a byte-order mark, so Excel in a
Chinese locale reads it right) and XLSX (numbers as numbers)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from openpyxl import Workbook

from tessera.reports.api import Table, Unit
from tessera.reports.format import cell, to_decimal


def _header(table: Table) -> list[str]:
    return [c.label for c in table.columns]


def table_csv(table: Table, money_exponent: int) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(_header(table))
    for row in table.rows:
        writer.writerow(
            [
                "" if (text := cell(v, c.unit, money_exponent)) is None else text
                for v, c in zip(row, table.columns, strict=True)
            ]
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def table_xlsx(table: Table, money_exponent: int) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = table.key[:31]
    sheet.append(_header(table))
    for row in table.rows:
        values: list[object] = []
        for value, column in zip(row, table.columns, strict=True):
            if column.unit is Unit.TEXT or value is None:
                values.append(value)
            else:
                number = to_decimal(value, column.unit, money_exponent)
                values.append(float(number) if isinstance(number, Decimal) else number)
        sheet.append(values)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
