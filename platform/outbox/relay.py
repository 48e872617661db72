"""Relaying the outbox: in-process (the embedded default) or onto arq.

One :class:`OutboxRelay` per process. Without Redis the API process runs the
work itself, in the background, at most ``concurrency`` jobs at a time, and
drains what is due when it shuts down. With Redis the worker relays: each
claimed group becomes one ``outbox_run`` job on arq, which runs it with
:func:`tessera.outbox.store.execute`.

The loop wakes when a unit of work in this process wrote work
(:meth:`notify`) and otherwise every ``poll_s`` seconds, which picks up work
written by other processes (a CLI import, a crashed API's leftovers).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from tessera.outbox import store
from tessera.outbox.store import Claimed

if TYPE_CHECKING:
    from tessera.jobs.arq_queue import ArqQueue

log = logging.getLogger("tessera.outbox")

# Far enough ahead that every pending entry counts as due.
_END_OF_TIME = datetime(9999, 1, 1, tzinfo=UTC)


class OutboxRelay:
    def __init__(
        self,
        *,
        arq: ArqQueue | None = None,
        concurrency: int = 4,
        batch: int = 100,
        poll_s: float = 1.0,
        lease_s: float = 600.0,
    ) -> None:
        self.arq = arq
        self.batch = batch
        self.poll_s = poll_s
        self.lease_s = lease_s
        self._limit = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def notify(self) -> None:
        """Work was written and has committed: relay it soon."""
        self._wake.set()

    async def relay_once(self, *, due_by: datetime | None = None) -> int:
        """Claim one batch of due work and run (or enqueue) it; returns the
        number of entries claimed."""
        # The priority lane first: a transactional message written after a
        # thousand campaign sends is claimed before them.
        claimed = await store.claim(
            self.batch, self.lease_s, due_by=due_by, kinds=store.PRIORITY_KINDS
        )
        if len(claimed) < self.batch:
            claimed += await store.claim(
                self.batch - len(claimed),
                self.lease_s,
                due_by=due_by,
                kinds=store.PRIORITY_KINDS,
                other_kinds=True,
            )
        groups = store.batches(claimed)
        if self.arq is not None:
            for group in groups:
                await self._enqueue(group)
        else:
            await asyncio.gather(*(self._run(group) for group in groups))
        return len(claimed)

    async def _run(self, group: Sequence[Claimed]) -> None:
        async with self._limit:
            await store.execute(group)

    async def _enqueue(self, group: Sequence[Claimed]) -> None:
        assert self.arq is not None
        # A fresh arq job id per claim: entry ids repeat across databases that
        # share a Redis, and arq keeps a job id an hour. A duplicate run (the
        # lease ran out while arq still held the job) finds the entries done.
        lane = (
            store.lane_queue(self.arq.queue_name) if group[0].kind in store.PRIORITY_KINDS else None
        )
        await self.arq.enqueue("outbox_run", [entry.id for entry in group], queue_name=lane)

    async def drain(self, *, include_delayed: bool = False) -> int:
        """Relay until nothing due is left (with ``include_delayed``, nothing
        pending at all, retries and delayed work included); returns how many
        entries were claimed. Work that keeps failing ends as failed after its
        job's ``max_tries`` attempts, so this always ends."""
        total = 0
        due_by = _END_OF_TIME if include_delayed else None
        while claimed := await self.relay_once(due_by=due_by):
            total += claimed
        return total

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                await self.drain()
            except Exception:  # the database may be away for a while: keep trying
                log.exception("outbox relay pass failed")
            if self._stopping:
                break
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_s):
                    await self._wake.wait()
            self._wake.clear()

    @property
    def running(self) -> bool:
        return self._task is not None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="tessera-outbox-relay")
            mode = "onto arq" if self.arq is not None else "in-process"
            log.info("outbox relay started (%s)", mode)

    async def stop(self, *, drain: bool = True, grace_s: float = 60.0) -> None:
        """Stop the loop, letting the work it runs finish (for up to
        ``grace_s``; work cut off then stays leased and runs again once its
        lease ends); then (``drain``) run or relay whatever is due, so a
        shut-down API process leaves no due work behind."""
        if self._task is not None:
            self._stopping = True
            self._wake.set()
            done, _ = await asyncio.wait({self._task}, timeout=grace_s)
            if not done:
                log.warning("outbox work still running after %.0f s: cut off", grace_s)
                self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            self._stopping = False
        if drain:
            await self.drain()


async def outbox_run(ctx: dict[str, Any], entry_ids: list[int]) -> bool:
    """The arq job a relay enqueues: run the entries (skipping any done)."""
    from tessera.outbox.models import OutboxEntry

    rows = await OutboxEntry.filter(id__in=entry_ids)
    return await store.execute(
        [store.claimed_from(row) for row in sorted(rows, key=lambda r: r.id)]
    )


# Done entries are kept this long for `tessera outbox status`, then pruned.
KEEP_DONE = timedelta(days=7)


async def outbox_prune(ctx: dict[str, Any]) -> int:
    """Cron: delete entries done more than :data:`KEEP_DONE` ago."""
    from tessera.outbox.models import OutboxEntry

    return await OutboxEntry.filter(done_at__lt=datetime.now(UTC) - KEEP_DONE).delete()
