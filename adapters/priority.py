"""People before background work at the embedded AWS's DynamoDB.

The embedded AWS serves DynamoDB one request at a time (``adapters.aws_process.Durable``: moto's
backend has no locks). Under load the workers' requests (32 messages handled at once by default)
filled that queue, and a person's ``completeUpload`` waited behind them once per request it made.

Code that runs for no one in particular marks itself with :func:`background` (the workers do, for
everything they start). Its DynamoDB requests to the embedded AWS carry :data:`HEADER`, and the
embedded AWS's :class:`TurnLock` serves waiting requests without it first: every request of the
API, and anything not marked. Background requests still get every ``burst + 1``-th turn while
people's requests wait, so the pipeline slows under load but never stops.

The header goes only to the embedded AWS (the endpoints ``adapters.embedded_signing`` knows); AWS
itself never sees it.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections import deque
from typing import TYPE_CHECKING, Any

from adapters import embedded_signing

if TYPE_CHECKING:
    from collections.abc import Iterator

    import botocore.session

#: The header a background request carries, and its value.
HEADER = "X-DocStore-Priority"
BACKGROUND = "background"
#: The same header as a WSGI server names it in the request's environment.
ENVIRON_KEY = "HTTP_" + HEADER.upper().replace("-", "_")

_background: contextvars.ContextVar[bool] = contextvars.ContextVar("docstore_background", default=False)


def background() -> None:
    """Mark the current context, and every task and thread call started from it from now on
    (asyncio tasks and ``anyio.to_thread`` copy the context), as background work."""
    _background.set(True)


def is_background() -> bool:
    """Whether the current context was marked with :func:`background`."""
    return _background.get()


def _mark(**event: Any) -> None:
    """botocore's ``before-sign`` hook: a background DynamoDB request to the embedded AWS says so."""
    request = event["request"]
    if _background.get() and embedded_signing.scope_only(request.url):
        request.headers[HEADER] = BACKGROUND


def install(session: botocore.session.Session) -> None:
    """Mark background requests of every client ``session`` builds (boto3's and PynamoDB's)."""
    session.register("before-sign.dynamodb", _mark, unique_id="docstore-priority")


class TurnLock:
    """A lock granted in the order it was asked for, people first.

    Two queues, each first come first served: a request without :data:`HEADER` waits in the first,
    a background one in the second. The holder hands the lock to the oldest waiter of the first
    queue, except that after ``burst`` such turns in a row while background requests wait, the
    oldest of those goes. ``threading.Lock`` wakes an arbitrary waiter (one request could wait
    seconds while later ones went first), and the standard library has no fair or priority lock.
    """

    def __init__(self, burst: int) -> None:
        if burst < 1:
            raise ValueError("people's requests go first at least once before a waiting background one")
        self.burst = burst
        self._guard = threading.Lock()
        self._waiting: tuple[deque[threading.Lock], deque[threading.Lock]] = (deque(), deque())
        self._held = False
        self._in_a_row = 0  # turns given to people's requests while background ones waited

    @contextlib.contextmanager
    def turn(self, *, background: bool) -> Iterator[None]:
        self.acquire(background=background)
        try:
            yield
        finally:
            self.release()

    def acquire(self, *, background: bool) -> None:
        with self._guard:
            if not self._held:
                self._held = True
                return
            turn = threading.Lock()
            turn.acquire()
            self._waiting[background].append(turn)
        turn.acquire()  # released by the holder before us, which hands the lock over held

    def release(self) -> None:
        with self._guard:
            people, later = self._waiting
            if people and not (later and self._in_a_row >= self.burst):
                self._in_a_row = self._in_a_row + 1 if later else 0
                people.popleft().release()
            elif later:
                self._in_a_row = 0
                later.popleft().release()
            else:
                self._held = False

    def waiting(self) -> tuple[int, int]:
        """How many requests wait: (people's, background)."""
        with self._guard:
            return len(self._waiting[0]), len(self._waiting[1])


@contextlib.contextmanager
def as_background() -> Iterator[None]:
    """Run the block as background work (for a thread or a test that is not a worker task)."""
    token = _background.set(True)
    try:
        yield
    finally:
        _background.reset(token)
