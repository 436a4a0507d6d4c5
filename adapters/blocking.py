"""Run blocking boto3 and PynamoDB calls off the event loop, in one bounded thread pool."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, ParamSpec, TypeVar

import anyio
import anyio.to_thread

if TYPE_CHECKING:
    from collections.abc import Callable

P = ParamSpec("P")
T = TypeVar("T")


class Blocking:
    """A thread pool sized with the HTTP connection pools of boto3 and PynamoDB.

    Every blocking call from async code goes through :meth:`run`, so no more calls are in flight
    than there are pooled connections for them (``Settings.blocking_threads``).
    """

    def __init__(self, threads: int) -> None:
        self.limiter = anyio.CapacityLimiter(threads)

    async def run(self, func: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await anyio.to_thread.run_sync(functools.partial(func, *args, **kwargs), limiter=self.limiter)
