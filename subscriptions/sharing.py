"""One conversion, one execution and one JSON encoding per event and distinct selection, shared by
every subscriber of that event in this process.

An account's event reaches each of its subscriptions through the same :class:`~events.envelope.Event`
object (``adapters.pubsub`` offers one object to every inbox of the channel), so that object, not
the event's id, is what is shared: two accounts' events never meet in one entry. Without sharing, each
subscriber converted it to its GraphQL type, graphql-core executed the selection on it, and the
view encoded the result: ten subscribers, ten of each. Here:

- :meth:`Sharing.payload` converts an event once per kind (``subscriptions.feeds``);
- :meth:`Sharing.result` executes a selection once per payload and *selection key*: the parsed
  operation (the same object for the same text: the limits' parser cache), its variables and the
  viewer's account, so two viewers never share a result (``schema.root.PerEventMemoExecutor``);
- :meth:`Sharing.encoded` encodes that result's data once (``server.GraphQLView.encode_json``).

Only results without errors are shared; a result that is still awaitable (an async resolver in the
selection) is not, and runs for each subscriber as before. Everything is kept for the last
:data:`EVENTS` events only: an event is delivered within milliseconds of its arrival, and what its
subscribers have not taken by then is executed again, never wrong.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable

T = TypeVar("T")

#: The events whose conversions, results and encodings are kept (the most recent).
EVENTS = 256


@dataclass
class SharingStats:
    """What was done, against what would have been done once per subscriber."""

    #: Events converted to their GraphQL type, and conversions handed out (one per subscriber).
    converted: int = 0
    conversions: int = 0
    #: Selections executed on a shared event, and results handed out.
    executed: int = 0
    results: int = 0
    #: Shared results encoded as JSON, and ``next`` messages built from an encoding.
    encoded: int = 0
    encodings: int = 0


@dataclass
class _Entry:
    #: The event converted (held, so that no other object takes its id while the entry lives).
    event: object
    payload: object
    results: dict[Hashable, Any] = field(default_factory=dict)


class Sharing:
    """The conversions, results and encodings of the last :data:`EVENTS` events. Used from the
    event loop's thread only, as everything that delivers events is."""

    def __init__(self, events: int = EVENTS) -> None:
        self.events = events
        self.stats = SharingStats()
        #: By the event's ``id()`` (its object, not its event id: only the object is one account's) and kind.
        self._entries: OrderedDict[tuple[int, object], _Entry] = OrderedDict()
        #: By ``id(payload)``: each entry holds its payload, so no other object takes its id meanwhile.
        self._by_payload: dict[int, _Entry] = {}
        #: By ``id(result.data)`` of a shared result: the data (holding its id) and its encoding.
        self._texts: dict[int, tuple[object, str | None]] = {}

    def payload(self, event: object, convert: Callable[[], T], kind: object) -> T:
        """The GraphQL object of ``event`` for ``kind`` (its converter): made once per event object."""
        key = (id(event), kind)
        entry = self._entries.get(key)
        if entry is None or entry.event is not event:
            entry = _Entry(event, convert())
            self.stats.converted += 1
            self._entries[key] = entry
            self._by_payload[id(entry.payload)] = entry
            while len(self._entries) > self.events:
                self._forget(self._entries.popitem(last=False)[1])
        self.stats.conversions += 1
        return entry.payload  # type: ignore[return-value]

    def result(self, payload: object, key: Hashable, execute: Callable[[], T]) -> T:
        """``execute()``'s result for ``payload`` and selection ``key``: run once when ``payload``
        is a shared event and the result has no errors, otherwise every time."""
        entry = self._by_payload.get(id(payload))
        if entry is None or entry.payload is not payload:
            return execute()
        self.stats.results += 1
        if key in entry.results:
            return entry.results[key]  # type: ignore[no-any-return]
        result = execute()
        self.stats.executed += 1
        if getattr(result, "errors", True) is None and not hasattr(result, "__await__"):
            entry.results[key] = result
            data = getattr(result, "data", None)
            if data is not None:
                self._texts[id(data)] = (data, None)
        return result

    def encoded(self, data: object) -> str | None:
        """The JSON of a shared result's ``data``, encoded once; None for data that is not shared."""
        held = self._texts.get(id(data))
        if held is None or held[0] is not data:
            return None
        self.stats.encodings += 1
        text = held[1]
        if text is None:
            text = json.dumps(data, separators=(",", ":"))  # as Strawberry's view encodes
            self._texts[id(data)] = (data, text)
            self.stats.encoded += 1
        return text

    def _forget(self, entry: _Entry) -> None:
        self._by_payload.pop(id(entry.payload), None)
        for result in entry.results.values():
            self._texts.pop(id(getattr(result, "data", None)), None)


def variables_key(values: dict[str, Any] | None) -> str:
    """A hashable form of an operation's coerced variables."""
    return json.dumps(values or {}, sort_keys=True, default=str)


#: The process's one instance: every connection's subscriptions run on the same event loop.
SHARING = Sharing()
