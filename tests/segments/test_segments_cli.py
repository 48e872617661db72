"""``tessera segments import|refresh`` in a real process against the test database."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from tessera.orders.inputs import MemberRef, OrderInput
from tessera.orders.money import MoneyAmount
from tessera.pipeline.orders import record_order
from tessera.scope import BrandScope
from tessera.segments import service
from tessera.segments.models import MemberLifecycle, SegmentMembership
from tessera.segments.service import SegmentKind
from tessera.testing import drain_outbox, run_cli


async def tessera(database_url: str, var_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return await run_cli(database_url, var_dir, "segments", *args)


async def test_a_csv_is_imported_and_a_segment_refreshed_from_the_command_line(
    brand_a, make_member, tessera_database_url, tmp_path, drain_outbox
):
    scope = BrandScope(brand_a)
    member = await make_member(brand_a, email="cli@example.com", city="Hangzhou")
    # Joining's follow-up work, done before the segment exists: only the
    # command line's refresh can put the member in it.
    await drain_outbox()
    listed = await service.create_segment(scope, "From CSV", SegmentKind.STATIC)
    local = await service.create_segment(
        scope,
        "Local",
        SegmentKind.DYNAMIC,
        rule={"type": "profile", "field": "city", "in": ["Hangzhou"]},
    )
    csv = tmp_path / "list.csv"
    csv.write_text("email\ncli@example.com\nghost@example.com\n")

    imported = await tessera(
        tessera_database_url,
        tmp_path,
        "import",
        str(csv),
        "--brand",
        brand_a.code,
        "--segment",
        str(listed.id),
    )
    assert imported.returncode == 0, imported.stderr
    assert "line 3: 'ghost@example.com': no member has it" in imported.stdout
    assert "2 row(s): 1 matched, 1 rejected" in imported.stdout
    assert await SegmentMembership.filter(segment_id=listed.id).values_list(
        "member_id", flat=True
    ) == [member.id]

    refreshed = await tessera(tessera_database_url, tmp_path, "refresh", "--brand", brand_a.code)
    assert refreshed.returncode == 0, refreshed.stderr
    assert f"segment {local.id}: 1 member(s), 1 entered, 0 left" in refreshed.stdout

    wrong = await tessera(
        tessera_database_url,
        tmp_path,
        "import",
        str(csv),
        "--brand",
        brand_a.code,
        "--segment",
        str(local.id),
    )
    assert wrong.returncode == 2
    assert "segmentId: members of a dynamic segment follow its rule" in wrong.stderr


async def test_lifecycle_as_of_a_day_from_the_command_line(
    brand_a, make_member, tessera_database_url, tmp_path
):
    scope = BrandScope(brand_a)
    member = await make_member(brand_a)
    await record_order(
        scope,
        OrderInput(
            external_id="1998-1",
            member=MemberRef(member_id=member.id),
            occurred_at=datetime(1998, 6, 20, 2, tzinfo=UTC),
            amount_paid=MoneyAmount(Decimal("50"), "CNY"),
        ),
    )
    # The order's own follow-up (re-evaluation as of now) runs first, as it
    # would have long before anyone analyses the history.
    await drain_outbox()

    done = await tessera(
        tessera_database_url,
        tmp_path,
        "lifecycle",
        "--brand",
        brand_a.code,
        "--as-of",
        "1998-06-30",
    )
    future = await tessera(
        tessera_database_url,
        tmp_path,
        "lifecycle",
        "--brand",
        brand_a.code,
        "--as-of",
        "2999-01-01",
    )

    assert done.returncode == 0, done.stderr
    assert "lifecycle recomputed as of 1998-06-30T15:59:59.999999+00:00" in done.stdout
    [row] = await scope.query(MemberLifecycle).all()
    assert (row.stage, row.recency_score is not None) == ("new", True)
    assert (
        future.returncode != 0 and "asOf cannot be in the future" in future.stderr + future.stdout
    )
