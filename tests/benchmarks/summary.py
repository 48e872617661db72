"""Every bench's figures of its last run in one table, with the ratio of the
run before beside each (``var/bench/<bench>.json`` and
``<bench>.previous.json``, written by :class:`harness.Report`).

Run last by ``make bench``; ``python -P tests/benchmarks/summary.py [DIR]``
prints the table of any results folder.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import RESULTS, Figure, figure_row

WIDTH = 62


def load(path: Path) -> dict[str, Any] | None:
    try:
        loaded: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return loaded


def ratios(run: dict[str, Any] | None) -> dict[tuple[str, str, str], float]:
    return {
        (f["table"], f["name"], f["baseline_name"]): f["ratio"]
        for f in (run or {}).get("figures", [])
    }


def main(directory: Path) -> int:
    runs = sorted(p for p in directory.glob("*.json") if not p.name.endswith(".previous.json"))
    if not runs:
        print(f"no bench results in {directory}")
        return 1
    print(f"\nall benches ({directory})")
    print(
        f"{'bench: figure':<{WIDTH}}{'Tessera':>12}{'baseline':>12}  {'ratio':>7}  "
        f"baseline is  [previous ratio]"
    )
    for path in runs:
        run = load(path)
        if run is None:
            continue
        before = ratios(load(path.with_name(f"{path.stem}.previous.json")))
        sizes = ", ".join(f"{k}={v}" for k, v in run["sizes"].items())
        print(f"-- {run['bench']}: {run['timestamp']}, commit {run['commit'][:12]}; {sizes}")
        for f in run["figures"]:
            figure = Figure(f["name"], f["value"], f["baseline"], f["baseline_name"], f["unit"])
            previous = before.get((f["table"], f["name"], f["baseline_name"]))
            was = f"  [{previous:.1f}x]" if previous is not None else ""
            print(figure_row(figure, f"{run['bench']}: ", WIDTH) + was)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS))
