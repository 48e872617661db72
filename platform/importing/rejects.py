"""The rejects file: every row an import refused, with its line number and
why, in a CSV that can be fixed and imported again."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from types import TracebackType
from typing import IO

from tessera.errors import DomainError, DomainErrors

_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])([A-Z])")


def column_name(field: list[str]) -> str:
    """A service's field path as the import file's column: ``joinChannel`` ->
    ``join_channel`` (services name fields as the API does)."""
    return ".".join(_CAMEL_HUMP.sub(r"_\1", part).lower() for part in field)


def reason_of(error: DomainError) -> str:
    """``column: message`` for each problem, joined with ``; ``."""
    errors = error.errors if isinstance(error, DomainErrors) else [error]
    return "; ".join(
        f"{column_name(e.field)}: {e.message}" if e.field else e.message for e in errors
    )


class RejectsFile:
    """Writes ``line, reason`` and then the row's own columns, in the input's
    order. The file is only created when the first row is refused.

    An import refuses a batch's rows at different steps (a bad cell at once,
    an unknown tag or a duplicate only with the whole batch), so rows are held
    until :meth:`flush`, which the importers call after each batch (batches
    follow the file), and written sorted by line."""

    def __init__(self, path: Path, header: list[str]) -> None:
        self.path = path
        self.header = header
        self.count = 0
        self._pending: list[dict[str, str | int]] = []
        self._handle: IO[str] | None = None
        self._writer: csv.DictWriter[str] | None = None

    def add(self, line: int, reason: str, values: dict[str, str]) -> None:
        self._pending.append({**values, "line": line, "reason": reason})
        self.count += 1

    def flush(self) -> None:
        if not self._pending:
            return
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self.path.open("w", newline="", encoding="utf-8")
            self._writer = csv.DictWriter(
                self._handle, ["line", "reason", *self.header], extrasaction="ignore"
            )
            self._writer.writeheader()
        # Stable: the rows of one refused order keep their order too.
        self._writer.writerows(sorted(self._pending, key=lambda row: int(row["line"])))
        self._pending.clear()

    def close(self) -> None:
        self.flush()
        if self._handle is not None:
            self._handle.close()

    def __enter__(self) -> RejectsFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
