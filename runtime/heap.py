"""The API process's garbage-collector policy: what lives long leaves the collector's reach.

CPython's collector walks every tracked object of the oldest generation in each full collection,
and runs one whenever the objects that survived since the last one pass a quarter of it. An API
process holding live connections keeps a few hundred tracked objects per connection (uvicorn's and
websockets' protocol objects, Starlette's WebSocket, Strawberry's handler and the operation's
generators), and connecting clients are exactly what makes survivors: at 5,000 subscribers a full
collection walked 1.6 million objects and held the event loop for seconds, every delivery waiting
(issue 15, docs/BENCHMARKS.md).

So the process freezes (``gc.freeze``) what start-up built, and, with :class:`HeapPolicy`, what
survives each full collection: a later full collection walks only the objects that survived since
the previous one. Reference counting still frees frozen objects; only garbage in reference cycles
among them is not found while they are frozen (a closed connection leaves about 120 such objects).
So once the frozen objects have grown by ``reclaim_percent`` since the last reclaim, the policy
unfreezes them and collects once, on the event loop, then freezes what is left. That reclaim walks
everything, as every full collection did before; it comes when the frozen set has doubled (at the
default 100 %) rather than whenever survivors pass a quarter, so memory held by cycles is bounded
by the live heap, and with steady connections it is rare.

Counting the frozen objects (``gc.get_freeze_count``) walks all of them: 2.6 ms for 600,000. A
process whose heap is frozen has a small oldest generation, so its full collections come often,
and counting at each one took 4 % of the API process's time holding the interpreter (py-spy
``--gil`` under the users benchmark's saturation). The policy keeps a running total instead, adding
what each freeze moves, and counts for real only when that total says a reclaim is due: the total
overstates (frozen objects freed meanwhile are not subtracted), so the real count decides, and
replaces it.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from dataclasses import dataclass

log = logging.getLogger("docstore.heap")


def frozen_count() -> int:
    """How many objects are frozen: ``gc.get_freeze_count``, which walks them all."""
    return gc.get_freeze_count()


def settle_heap() -> None:
    """Take what start-up built (schema, botocore models, tables, caches) out of the garbage
    collector's reach: it lives as long as the process, and every full collection walked all of it
    again, holding the event loop for a third of a second each time under load. (No collection
    first: start-up's own garbage is small, and a collection would delay the first answer.)"""
    gc.freeze()


@dataclass
class HeapStats:
    """What the policy has done since it was installed."""

    freezes: int = 0
    reclaims: int = 0
    #: Objects the last reclaim found unreachable (garbage in cycles among frozen objects).
    reclaimed: int = 0
    #: How long the last reclaim held the event loop, in seconds.
    reclaim_seconds: float = 0.0


class HeapPolicy:
    """Freezes after each full (generation-2) collection; reclaims once the frozen objects have
    grown by ``reclaim_percent`` since the last reclaim (or since :meth:`install`).

    :meth:`install` on the event loop that should run the reclaims (the app's lifespan), after
    start-up has settled; :meth:`uninstall` when the process stops serving. A collection may run
    on any thread, and no collection can run inside a collector callback, so the callback only
    freezes and, when a reclaim is due, schedules it on the loop.
    """

    def __init__(self, reclaim_percent: int) -> None:
        if reclaim_percent < 1:
            raise ValueError("the frozen objects grow by at least 1 % before a reclaim")
        self.reclaim_percent = reclaim_percent
        self.stats = HeapStats()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._baseline = 0
        #: The frozen objects as last counted, plus what each freeze since moved in: at least
        #: their number (objects freed while frozen are not subtracted).
        self._frozen_at_most = 0
        self._due = False
        self._reclaiming = False

    @property
    def installed(self) -> bool:
        return self._on_collection in gc.callbacks

    def install(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._baseline = self._frozen_at_most = frozen_count()
        if not self.installed:
            gc.callbacks.append(self._on_collection)

    def uninstall(self) -> None:
        if self.installed:
            gc.callbacks.remove(self._on_collection)
        self._loop = None

    def due(self) -> bool:
        """Whether the frozen objects have grown by ``reclaim_percent`` since the last reclaim
        (counted: a walk over all of them)."""
        self._frozen_at_most = frozen_count()
        return self._past_threshold(self._frozen_at_most)

    def _past_threshold(self, frozen: int) -> bool:
        return frozen * 100 > self._baseline * (100 + self.reclaim_percent)

    def _on_collection(self, phase: str, info: dict[str, int]) -> None:
        if phase != "stop" or info["generation"] != 2 or self._reclaiming:
            return
        # What the freeze moves: every generation, after a full collection nearly all in the oldest.
        self._frozen_at_most += sum(len(gc.get_objects(generation)) for generation in range(3))
        gc.freeze()
        self.stats.freezes += 1
        if not self._due and self._loop is not None and self._past_threshold(self._frozen_at_most) and self.due():
            self._due = True
            try:
                self._loop.call_soon_threadsafe(self.reclaim)
            except RuntimeError:  # the loop has closed: the process is stopping
                self._due = False

    def reclaim(self) -> None:
        """Unfreeze, collect everything once, freeze what is left: what cycles among frozen
        objects held is freed. Holds the thread (the event loop) for one full collection."""
        self._reclaiming = True
        started = time.perf_counter()
        try:
            gc.unfreeze()
            found = gc.collect()
            gc.freeze()
        finally:
            self._reclaiming = False
            self._due = False
        self._baseline = self._frozen_at_most = frozen_count()
        self.stats.reclaims += 1
        self.stats.reclaimed = found
        self.stats.reclaim_seconds = time.perf_counter() - started
        log.info(
            "heap reclaimed: %d unreachable objects freed in %.0f ms, %d objects frozen",
            found,
            1000 * self.stats.reclaim_seconds,
            self._baseline,
        )
