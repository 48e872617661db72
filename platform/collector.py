"""The cyclic garbage collector's policy in Tessera's processes: what start-up
built is left out of its walks, and a batch of orders is not walked again
and again while it runs."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager


def freeze_start_up() -> None:
    """Leave what a long-lived process (server, worker, importer) built while
    starting out of the collector's walks, for the rest of its life.

    Modules, the plugins, the GraphQL schema: some 230,000 objects that live
    as long as the process. A full collection walks every tracked object and
    runs whenever those promoted since the last one pass a quarter of the
    long-lived ones, so a busy process paid ~150 ms every few hundred requests,
    and a batch of 1,000 orders (which holds some 50,000 containers while it
    runs) about one a batch. Frozen, they are no longer walked (a full
    collection then takes tens of milliseconds). The price: cyclic garbage made
    before the freeze is never freed, hence the collection first; nothing made
    afterwards is affected."""
    gc.collect()
    gc.freeze()


_batches_running = 0
_held_since = 0.0
# Batches or requests that overlap without end (a busy server) would hold
# the collector for good: while one still runs, one that ends collects once
# this long after the collector was last let run.
COLLECT_AT_LEAST_EVERY_S = 10.0
# And the young generation once this many containers were made since it was
# last collected: a request leaves some cyclic garbage behind (about 100
# objects a member look-up, 180 a members page), which a server answering a
# thousand requests a second would otherwise keep for those ten seconds.
COLLECT_YOUNG_AFTER = 20_000


@contextmanager
def held() -> Iterator[None]:
    """No cyclic garbage collection while batches of orders or GraphQL
    requests run (in this process).

    A batch holds some 50,000 containers while it runs: the collector's
    young generations walked them some 120 times a batch of 1,000 orders
    and a full collection ran about once a batch, walking them all again
    (80 ms a batch, a sixth of its CPU), to free next to nothing: what a
    batch drops, reference counting frees. A request is the same on a
    smaller scale: a members page builds its answer, some 3,000 containers,
    and the young generation walked it four times a page (0.7 ms of its
    20). Held, the collector runs as usual once the last batch or request
    ends (a collection of what is left then), and a process run without it
    (``gc.disable``) is left so. While others still run, one that ends
    collects the young generation when it has grown large, and everything
    at least every ``COLLECT_AT_LEAST_EVERY_S``."""
    global _batches_running, _held_since
    if _batches_running == 0 and not gc.isenabled():
        yield
        return
    if _batches_running == 0:
        _held_since = time.monotonic()
    _batches_running += 1
    gc.disable()
    try:
        yield
    finally:
        _batches_running -= 1
        if _batches_running == 0:
            gc.enable()
        elif time.monotonic() - _held_since > COLLECT_AT_LEAST_EVERY_S:
            gc.collect()
            _held_since = time.monotonic()
        elif gc.get_count()[0] > COLLECT_YOUNG_AFTER:
            gc.collect(0)
