"""Password hashing in its own small thread pool, with a bounded queue in front of it.

argon2id is slow and memory-hard on purpose (64 MiB and tens of milliseconds a hash). Run on the
shared :class:`adapters.blocking.Blocking` pool, a burst of sign-ins held every one of its threads
and tens of 64 MiB buffers at once, and every other resolver waited behind them. Here at most
``threads`` hashes run at once, in threads of their own, and at most ``queue`` more callers wait;
beyond that a caller is refused at once with :class:`HashingBusy`, which the API answers as
``RateLimitedError``.
"""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, ParamSpec, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

P = ParamSpec("P")
T = TypeVar("T")


class HashingBusy(Exception):
    """``threads`` hashes are running and ``queue`` more are waiting."""

    def __init__(self, threads: int, queue: int) -> None:
        super().__init__(
            f"Too many sign-ins are being checked right now (at most {threads} at once and {queue} waiting, "
            "DOCSTORE_HASHING_THREADS and DOCSTORE_HASHING_QUEUE); try again in a moment."
        )
        self.threads = threads
        self.queue = queue


class Hashing:
    """A pool of ``threads`` threads for password hashes, admitting at most ``threads + queue``
    callers at a time. The pool's threads are its own: other blocking work never waits for them."""

    def __init__(self, threads: int, queue: int) -> None:
        self.threads = threads
        self.queue = queue
        self.admitted = 0
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="docstore-hashing")

    def check(self) -> None:
        """Raise :class:`HashingBusy` if a hash asked for now would be refused: a caller with work
        to do before its hash (signIn reads the account) is refused before doing it."""
        if self.admitted >= self.threads + self.queue:
            raise HashingBusy(self.threads, self.queue)

    async def run(self, func: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``func(*args, **kwargs)`` in the pool; raises :class:`HashingBusy` when the queue is full."""
        self.check()
        self.admitted += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._pool, functools.partial(func, *args, **kwargs))
        finally:
            self.admitted -= 1

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
