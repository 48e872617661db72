"""record_orders and GraphQL requests hold the cyclic garbage collector
while they run (collector.held): let go when the last one ends, never held
for good by batches or requests that keep overlapping, and a process that
runs without it is left so."""

import gc
from collections.abc import Iterator

import pytest

from tessera import collector


@pytest.fixture
def collections() -> Iterator[list[int]]:
    """The generation of each full run of the collector from now on."""
    runs: list[int] = []

    def note(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            runs.append(info["generation"])

    gc.callbacks.append(note)
    try:
        yield runs
    finally:
        gc.callbacks.remove(note)
        gc.enable()


def test_the_collector_is_held_until_the_last_overlapping_batch_ends() -> None:
    assert gc.isenabled()
    first, second = collector.held(), collector.held()
    first.__enter__()
    second.__enter__()
    assert not gc.isenabled()
    first.__exit__(None, None, None)
    assert not gc.isenabled(), "another batch still runs"
    second.__exit__(None, None, None)
    assert gc.isenabled()


def test_batches_that_keep_overlapping_still_let_it_collect(
    monkeypatch: pytest.MonkeyPatch, collections: list[int]
) -> None:
    monkeypatch.setattr(collector, "COLLECT_AT_LEAST_EVERY_S", 0.0)
    running = collector.held()
    running.__enter__()
    for _ in range(3):
        with collector.held():
            pass
    assert collections == [2, 2, 2]  # a full collection as each one ended
    assert not gc.isenabled()
    running.__exit__(None, None, None)
    assert gc.isenabled()


def test_no_collection_while_batches_overlap_for_less_than_the_bound(
    collections: list[int],
) -> None:
    with collector.held():
        with collector.held():
            pass
        assert collections == []
    assert gc.isenabled()


def test_a_process_run_without_the_collector_is_left_so() -> None:
    gc.disable()
    try:
        with collector.held():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_requests_that_keep_overlapping_still_collect_their_young_garbage(
    monkeypatch: pytest.MonkeyPatch, collections: list[int]
) -> None:
    """Each request leaves some cyclic garbage: while others still run, one
    that ends collects the young generation once it has grown past the bound."""
    monkeypatch.setattr(collector, "COLLECT_YOUNG_AFTER", 1_000)
    gc.collect()
    collections.clear()
    running = collector.held()
    running.__enter__()
    with collector.held():
        garbage = [[] for _ in range(100)]  # under the bound
    assert collections == []
    with collector.held():
        garbage = [[] for _ in range(2_000)]  # over it
    assert collections == [0]
    del garbage
    assert not gc.isenabled()
    running.__exit__(None, None, None)
    assert gc.isenabled()
