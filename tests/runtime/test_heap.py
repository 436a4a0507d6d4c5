"""The API process's collector policy: what survives a full collection is frozen, younger
collections freeze nothing, and once the frozen objects have grown enough a reclaim on the event
loop frees the cycles that died while frozen."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import anyio
import pytest

from runtime import heap
from runtime.heap import HeapPolicy
from settings import Settings
from tests.conftest import LiveServer


class Node:
    """A tracked object that can be weakly referenced and put in a reference cycle."""

    def __init__(self) -> None:
        self.itself = self


def frozen(thing: object) -> bool:
    """Whether ``thing`` is out of the collector's reach: tracked, yet in no generation."""
    return gc.is_tracked(thing) and not any(each is thing for each in gc.get_objects())


@pytest.fixture
def settled() -> Iterator[None]:
    """Everything alive now frozen, as start-up leaves an API process; the policy's hook gone after.
    Automatic collections are off meanwhile (the session's live server has threads that allocate):
    only the test's own ``gc.collect`` calls run."""
    callbacks = list(gc.callbacks)
    gc.disable()
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.callbacks[:] = callbacks
        gc.unfreeze()
        gc.enable()


def installed(percent: int) -> HeapPolicy:
    policy = HeapPolicy(percent)
    policy.install()
    return policy


def test_a_full_collection_freezes_what_survived_it(settled: None) -> None:
    async def main() -> None:
        policy = installed(100)
        survivors = [Node() for _ in range(3)]
        assert not any(frozen(each) for each in survivors)

        gc.collect()

        # Each survivor checked by itself: the freeze count is no witness, as frozen objects of the
        # session's live server threads are freed while the collection runs.
        assert [frozen(each) for each in survivors] == [True, True, True]
        assert policy.stats.freezes == 1
        assert policy.stats.reclaims == 0
        policy.uninstall()

    anyio.run(main)


def test_a_younger_collection_freezes_nothing(settled: None) -> None:
    async def main() -> None:
        policy = installed(100)
        survivor = Node()
        before = gc.get_freeze_count()

        gc.collect(0)
        gc.collect(1)

        assert not frozen(survivor)
        # Not more (a freeze moves every survivor in); maybe fewer: frozen objects of the session's
        # live server threads are still freed when their last reference goes.
        assert gc.get_freeze_count() <= before
        assert policy.stats.freezes == 0
        policy.uninstall()

    anyio.run(main)


def test_full_collections_count_the_frozen_objects_only_once_they_may_be_due(
    settled: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counting the frozen objects walks all of them; a frozen heap's full collections come often."""
    counted: list[int] = []

    def counting() -> int:
        counted.append(gc.get_freeze_count())
        return counted[-1]

    monkeypatch.setattr(heap, "frozen_count", counting)

    async def main() -> None:
        policy = installed(100)
        assert len(counted) == 1
        kept = [Node() for _ in range(20)]
        for _ in range(20):
            gc.collect()
        assert policy.stats.freezes == 20
        assert len(counted) == 1  # twenty objects frozen, nowhere near twice the baseline
        assert all(frozen(each) for each in kept)

        # Past the threshold by the running total: one count, which finds it due.
        grown: list[list[object]] = [[] for _ in range(counted[0] + counted[0] // 20 + 1_000)]
        gc.collect()
        assert len(counted) == 2
        await asyncio.sleep(0)
        assert policy.stats.reclaims == 1
        assert len(counted) == 3  # the reclaim counts what it left frozen: the next baseline
        del grown
        policy.uninstall()

    anyio.run(main)


def test_uninstalled_the_policy_freezes_nothing(settled: None) -> None:
    async def main() -> None:
        policy = installed(100)
        policy.uninstall()
        survivor = Node()

        gc.collect()

        assert not frozen(survivor)
        assert policy.stats.freezes == 0
        assert not policy.installed

    anyio.run(main)


def test_a_cycle_that_dies_frozen_waits_for_the_reclaim_which_comes_once_the_frozen_objects_doubled(
    settled: None,
) -> None:
    async def main() -> None:
        policy = installed(100)
        baseline = gc.get_freeze_count()
        node = Node()
        gc.collect()
        assert frozen(node)
        dead = weakref.ref(node)
        del node

        # Garbage, but frozen: a full collection does not find it, and no reclaim is due yet.
        gc.collect()
        await asyncio.sleep(0)
        assert dead() is not None
        assert not policy.due()
        assert policy.stats.reclaims == 0

        # The frozen objects grow past twice what they were: the next full collection schedules
        # a reclaim on the loop, which runs it at its next turn, not inside the collection. The
        # growth is counted from the frozen objects now, with a margin: the session's live server
        # threads free frozen objects of their own meanwhile, so the count can fall below baseline.
        short = 2 * baseline - gc.get_freeze_count()
        grown: list[list[object]] = [[] for _ in range(short + baseline // 20 + 1_000)]
        gc.collect()
        assert policy.stats.reclaims == 0
        assert dead() is not None
        await asyncio.sleep(0)

        assert policy.stats.reclaims == 1
        assert dead() is None
        assert policy.stats.reclaimed >= 1
        assert all(frozen(each) for each in grown[:10])
        assert not policy.due()
        del grown
        policy.uninstall()

    anyio.run(main)


def test_a_reclaim_frees_frozen_cycles_and_leaves_the_living_frozen(settled: None) -> None:
    async def main() -> None:
        policy = installed(100)
        living, dying = Node(), Node()
        gc.collect()
        dead = weakref.ref(dying)
        del dying

        policy.reclaim()

        assert dead() is None
        assert frozen(living)
        assert policy.stats.reclaims == 1
        assert policy.stats.freezes == 1  # the reclaim's own collection does not count as a freeze
        policy.uninstall()

    anyio.run(main)


def test_the_reclaim_percent_is_at_least_one() -> None:
    with pytest.raises(ValueError, match="at least 1 %"):
        HeapPolicy(0)


def test_the_api_process_runs_the_policy_from_its_start_to_its_stop(settings: Settings, target: object) -> None:
    # No workers: a second set of consumers on the session's queues could take another test's
    # message while this server stops, and hide it for the visibility timeout.
    server = LiveServer(settings.with_overrides(heap_reclaim_percent=50, run_workers=False))
    server.start()
    try:

        async def state() -> tuple[bool, int]:
            heap = server.app.state.heap
            return heap.installed, heap.reclaim_percent

        assert server.call(state()) == (True, 50)
        heap = server.app.state.heap
    finally:
        server.stop()

    assert not heap.installed
    assert heap._on_collection not in gc.callbacks


def test_an_api_process_with_the_policy_off_leaves_the_collector_alone(live_server: LiveServer) -> None:
    assert live_server.app.state.heap is None
    assert not any(isinstance(getattr(hook, "__self__", None), HeapPolicy) for hook in gc.callbacks)
