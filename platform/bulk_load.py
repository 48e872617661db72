"""Loading much data at once (an import, the demo data) without a follow-up
job per fact.

Each committed batch would otherwise write, per member it touches, the
re-evaluation of their lifecycle, rule tags and segments to the outbox: most
of the time of a bulk load, and as many jobs to run afterwards. Inside
:func:`bulk_load` the segment and activity-reward planners are held back,
for the loading task only; at its end the brand's nightly segment catch-up
is queued once instead (it also runs every night, so a load that was killed
half-way is caught up then). Webhook fan-out is not held (nothing catches it
up later), nor are follow-ups a service asks for explicitly
(``uow.follow_up``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager, suppress

from tortoise.models import Model

from tessera import runtime, uow
from tessera.db import analyze
from tessera.jobs.registry import UnknownJob
from tessera.scope import BrandScope

# What the nightly catch-up redoes for a brand.
HELD = frozenset({"tessera.segments.triggers:follow_ups", "tessera.rewards.triggers:follow_ups"})
# After these batches a load has the tables it fills analysed. Without
# statistics PostgreSQL takes a table just filled for nearly empty, and a
# look-up planned so (by external id, by digest) may probe the brand's own
# index and filter the rest: a scan of the brand per row looked up (seen
# with auto_explain: 0.5-0.9 s a batch of 1,000 on the import bench).
ANALYZE_AFTER_BATCHES = frozenset({1, 4, 16, 64, 256})


class BulkLoad:
    """A load in progress: the tables it fills, analysed as they grow."""

    def __init__(self, tables: tuple[str, ...]) -> None:
        self.tables = tables
        self.batches_written = 0
        self._analysing: asyncio.Future[None] | None = None

    async def wrote_batch(self) -> None:
        """Count a batch that wrote rows; after the batches in
        :data:`ANALYZE_AFTER_BATCHES` (the tables grown fourfold since the
        last time) have the tables the load fills analysed, while the load
        goes on: ``ANALYZE`` (another connection) takes no lock that the
        load's inserts wait for, and it was a tenth of a member import's
        time when the load waited for it."""
        self.batches_written += 1
        if self.tables and self.batches_written in ANALYZE_AFTER_BATCHES:
            await self.analysed()  # one at a time
            self._analysing = asyncio.ensure_future(analyze(*self.tables))

    async def analysed(self) -> None:
        """Wait for the analysis going on, if any (its error raised here)."""
        analysing, self._analysing = self._analysing, None
        if analysing is not None:
            await analysing

    def abandon(self) -> None:
        if self._analysing is not None:
            self._analysing.cancel()


@asynccontextmanager
async def bulk_load(
    scope: BrandScope, fills: Iterable[type[Model]] = ()
) -> AsyncIterator[BulkLoad]:
    """Hold the follow-ups back while the caller loads, then queue the
    brand's catch-up; ``fills``, the models whose tables the load writes
    to, are analysed as they grow (:meth:`BulkLoad.wrote_batch`)."""
    load = BulkLoad(tuple(model._meta.db_table for model in fills))
    with uow.holding(HELD):
        try:
            yield load
        except BaseException:
            load.abandon()
            raise
        await load.analysed()
    # Without segments in this build there is nothing to catch up.
    with suppress(UnknownJob):
        await runtime.current().queue.enqueue("segments_nightly", scope.brand_id)
