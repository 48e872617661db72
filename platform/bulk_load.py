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

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from tessera import runtime, uow
from tessera.jobs.registry import UnknownJob
from tessera.scope import BrandScope

# What the nightly catch-up redoes for a brand.
HELD = frozenset({"tessera.segments.triggers:follow_ups", "tessera.rewards.triggers:follow_ups"})


@asynccontextmanager
async def bulk_load(scope: BrandScope) -> AsyncIterator[None]:
    with uow.holding(HELD):
        yield
    # Without segments in this build there is nothing to catch up.
    with suppress(UnknownJob):
        await runtime.current().queue.enqueue("segments_nightly", scope.brand_id)
