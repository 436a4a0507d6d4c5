"""The read cache in front of DynamoDB: what every request reads (its session, its account), kept a
few seconds in each process, and dropped in every process the moment it changes.

Entries are bounded in number (least recently used out first) and in time: ``seconds`` at most,
and a session never past its own expiry. The bounds come from cachetools' ``TLRUCache``, whose
time-to-use is computed per entry, which is what a session's expiry needs.

What changes a cached entry (signOut, a plan change, a role change, the quota flag) publishes an
:class:`Invalidation` on the pub/sub's process-wide channel (``adapters.pubsub``); every process,
the publisher included, drops the entry when it arrives. A process that has lost that channel
cannot know what changed, so its cache is suspended: it then reads everything from DynamoDB.

A read that races an invalidation must not put back what it read before the change: a reader
takes :meth:`ReadCache.epoch` before reading DynamoDB and stores only if no invalidation arrived
in between. What a process has just written and will be asked for next (signUp's and signIn's
session and account) is kept the same way, the epoch taken before the write.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cachetools import TLRUCache

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


def session_key(fingerprint: str) -> str:
    """The key of a session: its fingerprint (``models.sessions.fingerprint``), never the token or
    the hash DynamoDB keys it by, since invalidations carry it over the pub/sub."""
    return f"session:{fingerprint}"


def account_key(account_id: str) -> str:
    return f"account:{account_id}"


@dataclass(frozen=True)
class Invalidation:
    """The account changed (plan, role, quota flag), or, with ``session`` (that session's
    fingerprint), one of its sessions ended: every process drops that account, or that session."""

    account_id: str
    session: str | None = None

    def to_json(self) -> str:
        return json.dumps({"account_id": self.account_id, "session": self.session}, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str) -> Invalidation:
        """ValueError (or KeyError, TypeError) for anything malformed."""
        body = json.loads(raw)
        if not isinstance(body, dict):
            raise ValueError("an invalidation is a JSON object")
        session = body.get("session")
        if not isinstance(body["account_id"], str) or not isinstance(session, str | None):
            raise ValueError("an invalidation names an account id and maybe a session")
        return cls(account_id=body["account_id"], session=session)


@dataclass(frozen=True)
class _Entry:
    value: Any
    expires: float


class ReadCache:
    """Values by key, each for at most ``seconds`` (or its own shorter life), at most ``entries`` of
    them; thread-safe, since the blocking threads read and fill it. ``seconds`` or ``entries`` of 0
    turns it off: nothing is kept and every read goes to DynamoDB. ``timer`` is injectable for tests.

    ``announce`` (set by the pub/sub when it connects) tells every other process of an invalidation.
    """

    def __init__(self, *, seconds: float, entries: int, timer: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.entries = entries
        self.timer = timer
        self.announce: Callable[[Invalidation], Awaitable[None]] | None = None
        self.suspended: str | None = None
        self._lock = threading.Lock()
        self._epoch = 0
        self._entries: TLRUCache[str, _Entry] | None = None
        if seconds > 0 and entries > 0:
            self._entries = TLRUCache(maxsize=entries, ttu=lambda _key, entry, _now: entry.expires, timer=timer)

    @property
    def enabled(self) -> bool:
        return self._entries is not None and self.suspended is None

    def __len__(self) -> int:
        with self._lock:
            if self._entries is None:
                return 0
            self._entries.expire()
            return len(self._entries)

    def get(self, key: str) -> Any | None:
        """The live value of ``key``, or None."""
        with self._lock:
            if self._entries is None or self.suspended is not None:
                return None
            entry = self._entries.get(key)
            return None if entry is None else entry.value

    def epoch(self) -> int:
        """Take this before reading what you will :meth:`put`."""
        with self._lock:
            return self._epoch

    def put(self, key: str, value: Any, *, epoch: int, seconds: float | None = None) -> bool:
        """Keep ``value`` for ``seconds`` (at most the cache's own), unless an invalidation arrived
        since ``epoch`` was taken; whether it was kept."""
        life = self.seconds if seconds is None else min(seconds, self.seconds)
        with self._lock:
            if self._entries is None or self.suspended is not None or epoch != self._epoch or life <= 0:
                return False
            self._entries[key] = _Entry(value, self.timer() + life)
            return True

    def drop(self, key: str) -> None:
        with self._lock:
            self._epoch += 1
            if self._entries is not None:
                self._entries.pop(key, None)

    def apply(self, invalidation: Invalidation) -> None:
        """Drop what ``invalidation`` names (an invalidation from any process, this one's included)."""
        with self._lock:
            self._epoch += 1
            if self._entries is None:
                return
            if invalidation.session is None:
                self._entries.pop(account_key(invalidation.account_id), None)
            else:
                self._entries.pop(session_key(invalidation.session), None)

    async def invalidate(self, invalidation: Invalidation) -> None:
        """Drop it here at once, and tell every process (through ``announce``)."""
        self.apply(invalidation)
        if self.announce is not None:
            await self.announce(invalidation)

    def suspend(self, reason: str) -> None:
        """Stop serving anything (invalidations can no longer arrive): every read goes to DynamoDB."""
        with self._lock:
            self._epoch += 1
            if self.suspended is None:
                self.suspended = reason
                log.error("read cache off: %s; every request reads DynamoDB", reason)
            if self._entries is not None:
                self._entries.clear()
