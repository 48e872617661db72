"""Reading what an import wrote (a module name unique in the suite, since test
folders share one import namespace)."""

from __future__ import annotations

import csv
from pathlib import Path


def read_rejects(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))
