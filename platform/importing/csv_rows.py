"""Reading an import file one row at a time, and the cell formats every
import shares (lists, decimals, times)."""

from __future__ import annotations

import asyncio
import csv
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, TypeVar
from zoneinfo import ZoneInfo

from tessera.errors import DomainError
from tessera.frozen import set_at_once

T = TypeVar("T")
R = TypeVar("R")

# Exported spreadsheets carry huge notes fields now and then; the default
# limit (128 KiB) would stop the whole import on one of them.
csv.field_size_limit(16 * 1024 * 1024)


@set_at_once
@dataclass(frozen=True)
class CsvRow:
    """One record: ``line`` is the file line it starts on (the header is line 1);
    ``extra_cells`` counts cells beyond the header's columns."""

    line: int
    values: dict[str, str]
    extra_cells: int = 0


class CsvHeaderError(ValueError):
    """The file cannot be imported at all (no header, unknown columns)."""


class CsvSource:
    """The rows of a UTF-8 CSV file (a BOM, as spreadsheet programs write it,
    is skipped), read lazily as they are consumed, so memory stays flat
    whatever the file's size. ``bytes_read`` of ``size`` drives a progress bar."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = path.stat().st_size
        self.bytes_read = 0
        self._handle: IO[bytes] = path.open("rb")
        self._reader = csv.reader(self._decoded())
        try:
            self.header = [name.strip() for name in next(self._reader)]
        except StopIteration:
            self.close()
            raise CsvHeaderError(f"{path} is empty: the first line names the columns") from None
        if len(set(self.header)) != len(self.header):
            self.close()
            raise CsvHeaderError("a column is named twice in the header")

    def _decoded(self) -> Iterator[str]:
        first = True
        for raw in self._handle:
            self.bytes_read += len(raw)
            yield raw.decode("utf-8-sig" if first else "utf-8")
            first = False

    def __iter__(self) -> Iterator[CsvRow]:
        width = len(self.header)
        start = self._reader.line_num + 1
        try:
            for cells in self._reader:
                # One strip of the joined cells: a blank record is whitespace all through.
                if "".join(cells).strip():
                    extra = len(cells) - width
                    if extra < 0:
                        cells += [""] * -extra
                    yield CsvRow(start, dict(zip(self.header, cells, strict=False)), extra)
                start = self._reader.line_num + 1
        except UnicodeDecodeError:
            raise CsvHeaderError(
                f"{self.path} is not UTF-8 text (line {start}); save it as UTF-8 CSV"
            ) from None
        finally:
            self.close()

    def close(self) -> None:
        self._handle.close()


def batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of at most ``size`` items (itertools.batched is 3.12+)."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


async def prepared_batches(
    items: Iterable[T], size: int, prepare: Callable[[list[T]], R]
) -> AsyncIterator[tuple[list[T], R]]:
    """:func:`batches` of ``items``, each with ``prepare(batch)``: the next
    batch is read (the file's parsing included) and prepared (parsed,
    checked: pure CPU work) in a thread while the caller writes the one
    before, so Python and the database work at the same time. Never more
    than one batch is read ahead of the caller, and ``items`` is only ever
    advanced by one thread at a time."""
    chunks = batches(items, size)

    def read_ahead() -> tuple[list[T], R] | None:
        batch = next(chunks, None)
        return None if batch is None else (batch, prepare(batch))

    ahead = asyncio.ensure_future(asyncio.to_thread(read_ahead))
    while (ready := await ahead) is not None:
        ahead = asyncio.ensure_future(asyncio.to_thread(read_ahead))
        try:
            yield ready
        except BaseException:
            ahead.cancel()
            raise


def cell_list(text: str) -> list[str]:
    """A semicolon-separated cell: ``vip;new`` -> ``["vip", "new"]``."""
    if not text:  # most files' cell: no list
        return []
    return [part.strip() for part in text.split(";") if part.strip()]


def cell_decimal(text: str, column: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise DomainError("INVALID", f"{text!r} is not a number", [column]) from None
    if not value.is_finite():
        raise DomainError("INVALID", f"{text!r} is not a number", [column])
    return value


def cell_int(text: str, column: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise DomainError("INVALID", f"{text!r} is not a whole number", [column]) from None


def cell_bool(text: str, column: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"true", "yes", "1", "y"}:
        return True
    if lowered in {"false", "no", "0", "n"}:
        return False
    raise DomainError("INVALID", f"{text!r} is not true or false", [column])


def cell_date(text: str, column: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise DomainError("INVALID", f"{text!r} is not a date as YYYY-MM-DD", [column]) from None


def cell_time(text: str, column: str, timezone: str) -> datetime:
    """ISO 8601; a time without an offset, or a bare date (its midnight), is
    read in the brand's ``timezone``. Returned in UTC."""
    raw = text.strip()
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise DomainError(
            "INVALID", f"{raw!r} is not a time such as 2024-05-01T10:00:00+08:00", [column]
        ) from None
    if len(raw) == 10:  # a bare date parses as its midnight
        value = datetime.combine(value.date(), time())
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(timezone))
    return value.astimezone(UTC)
