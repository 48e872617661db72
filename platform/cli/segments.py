"""``tessera segments``: refresh segments and upload static lists from the
command line (the same services as the API)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer

from tessera.cli.runner import brand_scope, out, run
from tessera.config import Settings
from tessera.errors import DomainError
from tessera.segments import imports, service
from tessera.segments import lifecycle as stages
from tessera.segments.service import RefreshTrigger, SegmentKind

app = typer.Typer()
segments = typer.Typer(
    name="segments", help="Segments, their lists, and lifecycle stages.", no_args_is_help=True
)
app.add_typer(segments, rich_help_panel="Data")


@segments.command()
def refresh(
    brand: str = typer.Option(..., help="Code of the brand."),
    segment: list[int] = typer.Option(
        [], "--segment", "-s", help="Id of a segment (repeatable; default: every dynamic one)."
    ),
) -> None:
    """Re-evaluate dynamic segments now and print what changed."""

    async def work(_: Settings) -> None:
        scope = await brand_scope(brand)
        ids = list(segment)
        if not ids:
            dynamic = service.segments_query(scope).filter(kind=SegmentKind.DYNAMIC.value)
            ids = [s.id for s in service.dependency_order(list(await dynamic))]
        for segment_id in ids:
            done = await service.refresh_segment(scope, segment_id, trigger=RefreshTrigger.MANUAL)
            out.print(
                f"segment {segment_id}: {done.size} member(s), {done.entered} entered, "
                f"{done.exited} left ({done.duration_ms} ms)"
            )

    run(work)


@segments.command("import")
def import_(
    file: Path = typer.Argument(..., help="CSV: `kind,value` rows, or one identity-kind column."),
    brand: str = typer.Option(..., help="Code of the brand."),
    segment: int = typer.Option(..., "--segment", "-s", help="Id of a static segment."),
    add: bool = typer.Option(False, help="Add to the list instead of replacing it."),
) -> None:
    """Upload identities into a static segment; unmatched rows are listed."""

    async def work(_: Settings) -> None:
        try:
            text = file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise DomainError("INVALID_CSV", f"cannot read {file}: {exc}", ["file"]) from None
        scope = await brand_scope(brand)
        result = await imports.import_list(scope, segment, text, add=add)
        for row in result.rejected:
            out.print(f"line {row.line}: {row.value!r}: {row.reason}")
        refresh = result.refresh
        out.print(
            f"{result.rows} row(s): {result.matched} matched, {result.rejected_count} rejected; "
            f"segment {segment} has {refresh.size if refresh else 0} member(s)"
        )

    run(work)


@segments.command()
def lifecycle(
    brand: str = typer.Option(..., help="Code of the brand."),
    as_of: datetime | None = typer.Option(
        None,
        "--as-of",
        formats=["%Y-%m-%d"],
        help="Score the history as it stood at the end of this day (the brand's calendar), "
        "ignoring later orders: for imported history. Default: now.",
    ),
) -> None:
    """Recompute every member's RFM scores and lifecycle stage now (or as of a day)."""

    async def work(_: Settings) -> None:
        scope = await brand_scope(brand)
        day = as_of.date() if as_of is not None else None
        at = await stages.recompute_brand(scope, as_of=day)
        out.print(f"{brand}: lifecycle recomputed as of {at.isoformat()}")

    run(work)
