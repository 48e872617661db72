"""``tessera outbox``: what follow-up work waits, runs, failed or is done,
and putting failed work back (docs/operations.md, "The outbox")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import typer
from rich.table import Table
from tortoise.functions import Count, Min

from tessera.cli.runner import fail, out, run
from tessera.config import Settings
from tessera.outbox.models import OutboxEntry

app = typer.Typer()
outbox = typer.Typer(
    name="outbox",
    help="Follow-up work of committed changes: status, failures, retries.",
    no_args_is_help=True,
)
app.add_typer(outbox, rich_help_panel="Run")

STATES = ("due", "waiting", "failed", "done")


async def counts(now: datetime) -> dict[str, dict[str, int]]:
    """kind -> state -> entries. ``due``: ready to run; ``waiting``: running
    under a lease, or waiting to be retried; ``failed``: out of attempts;
    ``done``: finished (kept until pruned)."""
    pending = OutboxEntry.filter(done_at__isnull=True, failed_at__isnull=True)
    queries = {
        "due": pending.filter(available_at__lte=now),
        "waiting": pending.filter(available_at__gt=now),
        "failed": OutboxEntry.filter(failed_at__isnull=False),
        "done": OutboxEntry.filter(done_at__isnull=False),
    }
    table: dict[str, dict[str, int]] = {}
    for state, query in queries.items():
        rows = await query.annotate(n=Count("id")).group_by("kind").values("kind", "n")
        for row in rows:
            table.setdefault(row["kind"], dict.fromkeys(STATES, 0))[state] = row["n"]
    return table


@outbox.command()
def status(
    failed: bool = typer.Option(False, "--failed", help="Also list each failed entry's error."),
) -> None:
    """Entries per kind of work: due, waiting (running or retrying), failed,
    done; the age of the oldest due entry shows how far the relay lags."""

    async def work(_: Settings) -> None:
        now = datetime.now(UTC)
        table = await counts(now)
        grid = Table("kind", *STATES)
        for kind in sorted(table):
            grid.add_row(kind, *(str(table[kind][s]) for s in STATES))
        out.print(grid)
        oldest = (
            await OutboxEntry.filter(
                done_at__isnull=True, failed_at__isnull=True, available_at__lte=now
            )
            .annotate(oldest=Min("available_at"))
            .values("oldest")
        )
        if oldest and oldest[0]["oldest"] is not None:
            lag = (now - oldest[0]["oldest"]).total_seconds()
            out.print(f"oldest due entry: {lag:.0f} s")
        if failed:
            for entry in await OutboxEntry.filter(failed_at__isnull=False).order_by("id"):
                out.print(
                    f"#{entry.id} {entry.kind} brand {entry.brand_id} "
                    f"after {entry.attempts} attempt(s): {entry.last_error}"
                )

    run(work, follow_up=False)


@outbox.command()
def retry(
    entry: list[int] = typer.Option(
        [], "--id", help="Id of a failed entry (repeatable; default: every failed one)."
    ),
) -> None:
    """Put failed entries back: due now, with their attempts counted afresh."""

    async def work(_: Settings) -> None:
        query = OutboxEntry.filter(failed_at__isnull=False)
        if entry:
            query = query.filter(id__in=entry)
        changed = await query.update(failed_at=None, attempts=0, available_at=datetime.now(UTC))
        out.print(f"{changed} failed entr{'y' if changed == 1 else 'ies'} queued again")

    run(work, follow_up=False)


@outbox.command()
def prune(
    older_than_days: int = typer.Option(7, help="Delete done entries finished before this."),
) -> None:
    """Delete done entries (failed and pending ones stay)."""
    if older_than_days < 0:
        fail("--older-than-days cannot be negative", 2)

    async def work(_: Settings) -> None:
        cutoff = datetime.now(UTC) - timedelta(days=older_than_days)
        deleted = await OutboxEntry.filter(done_at__lt=cutoff).delete()
        out.print(f"{deleted} done entr{'y' if deleted == 1 else 'ies'} deleted")

    run(work, follow_up=False)
