"""Loading much data at once (an import, the demo data) without a follow-up
job per fact.

Each committed batch would otherwise write, per member it touches, the
re-evaluation of their lifecycle, rule tags and segments to the outbox: most
of the time of a bulk load, and as many jobs to run afterwards. Inside
:func:`bulk_load` the planners of :data:`tessera.uow.FOLLOW_UPS` are held
back; at its end the brand's nightly segment catch-up is queued once instead
(it also runs every night, so a load that was killed half-way is caught up
then). Follow-ups a service asks for explicitly (``uow.follow_up``) are
still written.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from tessera import runtime, uow
from tessera.jobs.registry import UnknownJob
from tessera.scope import BrandScope


@asynccontextmanager
async def bulk_load(scope: BrandScope) -> AsyncIterator[None]:
    held = list(uow.FOLLOW_UPS)
    uow.FOLLOW_UPS.clear()
    try:
        yield
    finally:
        uow.FOLLOW_UPS[:] = held
    # Without segments in this build there is nothing to catch up.
    with suppress(UnknownJob):
        await runtime.current().queue.enqueue("segments_nightly", scope.brand_id)
