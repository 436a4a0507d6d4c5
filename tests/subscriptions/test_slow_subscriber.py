"""A subscriber that stops reading holds at most DEFAULT_BUFFER events on the server, then is ended
with TOO_SLOW; the other subscribers of the same account receive every event meanwhile."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

from events.channels import DEFAULT_BUFFER
from events.envelope import Event, EventType
from tests.client import User
from tests.subscriptions.conftest import Events, Socket, bearer, event, next_message, open_socket

#: Large events fill the socket buffers between the server and the stalled client in few steps.
PADDING = "x" * 16_384


@contextlib.contextmanager
def stalled_socket(url: str) -> Iterator[Socket]:
    """A client with a tiny kernel receive buffer, no compression, that reads only when asked to."""
    parts = urlsplit(url)
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect((parts.hostname, parts.port))
    with open_socket(url, sock=raw, max_queue=1, compression=None) as stalled:
        yield stalled


def failed(account_id: str, number: int) -> Event:
    return event(EventType.DOCUMENT_FAILED, account_id, "01JDOCUMENTAAAAAAAAAAAAAAA", number, reason=PADDING)


def test_a_subscriber_that_stops_reading_is_ended_at_its_buffer_while_others_receive_everything(
    ws_url: str, acknowledged: Socket, user: User, events: Events
) -> None:
    with stalled_socket(ws_url) as stalled:
        stalled.init(bearer(user))
        assert stalled.receive() == {"type": "connection_ack"}
        stalled.subscribe("stalled", "DocumentEvents")
        acknowledged.subscribe("reading", "DocumentEvents")
        events.wait_for_subscribers(user.id, 2)
        ended_before = events.stats().too_slow
        published: list[Event] = []
        held: list[int] = []  # events the server holds for its subscribers, after each step

        # The reading subscriber gets each step in full before the next, so what the server then holds
        # is the stalled subscriber's backlog alone. Steps never pass the bound, so it is met exactly.
        while events.stats().too_slow == ended_before:
            assert len(published) < 5000, f"the stalled subscriber was never ended: {held}"
            step = max(1, min(32, DEFAULT_BUFFER - held[-1])) if held else 32
            batch = [failed(user.id, len(published) + n) for n in range(1, step + 1)]
            events.publish(*batch)
            published += batch
            assert acknowledged.receive_many(step) == [next_message("reading", "documentEvents", e) for e in batch]
            held.append(events.stats().buffered)

        assert max(held) == DEFAULT_BUFFER
        assert held[-2:] == [DEFAULT_BUFFER, 0]
        assert events.stats().too_slow == ended_before + 1
        assert events.subscribers(user.id) == 1
        after = failed(user.id, len(published) + 1)
        events.publish(after)
        assert acknowledged.receive() == next_message("reading", "documentEvents", after)

        # Reading again, the stalled client gets what had left the server's buffer, in order, then the end.
        delivered = len(published) - 1 - DEFAULT_BUFFER
        assert stalled.receive_many(delivered) == [
            next_message("stalled", "documentEvents", e) for e in published[:delivered]
        ]
        assert stalled.receive() == {
            "id": "stalled",
            "type": "next",
            "payload": {
                "data": None,
                "errors": [
                    {
                        "message": (
                            f"This subscription fell more than {DEFAULT_BUFFER} events behind and was ended. "
                            "Fetch the current state, then subscribe again."
                        ),
                        "extensions": {"code": "TOO_SLOW"},
                    }
                ],
            },
        }
        assert stalled.receive() == {"id": "stalled", "type": "complete"}
