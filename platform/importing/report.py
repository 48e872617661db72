"""What an import did, row by row, summed up."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# Called with the number of rows read so far, after each batch.
OnProgress = Callable[[int], None]


@dataclass
class ImportReport:
    """``created``: new members or orders; ``unchanged``: already there (a
    re-run); ``rejected``: rows written to the rejects file."""

    rows: int = 0
    created: int = 0
    unchanged: int = 0
    rejected: int = 0
