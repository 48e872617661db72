"""An order's rows as ``import orders`` reads them (no database): its other
rows are compared with its first cell by cell only when their cells differ."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tessera.errors import DomainErrors
from tessera.importing.csv_rows import CsvRow, CsvSource
from tessera.importing.orders import _order


class _Brand:
    currency = "CNY"
    timezone = "Asia/Shanghai"


class _Scope:
    brand = _Brand()


FIRST = {
    "external_id": "o-1",
    "member_external_id": "m-1",
    "occurred_at": "2025-03-01T10:00:00+08:00",
    "amount_paid": "150.00",
    "store_code": "s1",
    "sku": "a",
    "unit_price": "75.00",
}


def _read(*others: dict[str, str]) -> Any:
    group = [CsvRow(2, FIRST), *(CsvRow(3 + n, values) for n, values in enumerate(others))]
    try:
        return _order(_Scope(), group)  # type: ignore[arg-type]
    except DomainErrors as error:
        return [(e.code, e.message, e.field) for e in error.errors]


def test_rows_whose_order_cells_differ_only_in_blanks_or_absence_are_one_order() -> None:
    same = _read({**FIRST, "sku": "b"})
    assert not isinstance(same, list)
    padded = {**FIRST, "sku": "b", "store_code": " s1 ", "channel": "", "member_phone": " "}
    assert _read(padded) == same


def test_a_row_that_differs_on_an_order_cell_is_named() -> None:
    assert _read({**FIRST, "sku": "b", "amount_paid": "150.01", "channel": "web"}) == [
        ("INVALID", "differs from the order's first row (line 2) on line 3", ["amount_paid"]),
        ("INVALID", "differs from the order's first row (line 2) on line 3", ["channel"]),
    ]


@pytest.mark.parametrize(
    ("text", "rows"),
    [
        ("a,b,c\n1,2\n", [(2, {"a": "1", "b": "2", "c": ""}, -1)]),
        ("a,b,c\n1,2,3,4\n", [(2, {"a": "1", "b": "2", "c": "3"}, 1)]),
        ("a,b\n1,2\n , \n3,4\n", [(2, {"a": "1", "b": "2"}, 0), (4, {"a": "3", "b": "4"}, 0)]),
    ],
)
def test_short_and_long_records(tmp_path: Path, text: str, rows: list[Any]) -> None:
    path = tmp_path / "f.csv"
    path.write_text(text, encoding="utf-8")
    assert [(r.line, r.values, r.extra_cells) for r in CsvSource(path)] == rows
