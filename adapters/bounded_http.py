"""uvicorn's httptools protocol with a bound on each request's head: its request line and headers.

uvicorn bounds heads only with h11 (``h11_max_incomplete_event_size``); with httptools, which
``docstore serve`` runs (uvicorn[standard]), a 64 MB Authorization header was read whole, the
parser growing its buffer at every chunk, and answered: the event loop stalled for seconds. This
subclass counts a head's bytes as they arrive and answers 431 as soon as it is over the limit, or
has too many headers, before the application sees the request. (A middleware would come too late:
by then the whole head has been read.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

if TYPE_CHECKING:
    import asyncio


#: How long a refused connection is kept open to drop the rest of its request.
LINGER_SECONDS = 5.0


class HeadTooLarge(Exception):
    """Raised from a parser callback to stop parsing a head that is over the limit."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """Answers ``431 Request Header Fields Too Large`` and closes the connection when a request's
    line and headers take more than ``max_head_bytes`` or hold more than ``max_headers`` headers."""

    max_head_bytes = 16_384
    max_headers = 100

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._reading_head = True
        self._head_bytes = 0
        self._head_refused = False

    def data_received(self, data: bytes) -> None:
        if self._head_refused:
            return  # the rest of a refused request: dropped unread (see send_400_response)
        if self._reading_head:
            self._head_bytes += len(data)
        super().data_received(data)
        # A head still incomplete after this chunk: the parser holds at most the limit and one chunk.
        if self._reading_head and self._head_bytes > self.max_head_bytes and not self.transport.is_closing():
            self._head_refused = True
            self.send_400_response("")

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        if len(self.headers) > self.max_headers:
            self._head_refused = True
            raise HeadTooLarge

    def on_headers_complete(self) -> None:
        self._reading_head = False
        # Exact, where the chunk count above may include the start of the body.
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self.max_head_bytes:
            self._head_refused = True
            raise HeadTooLarge
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._reading_head, self._head_bytes = True, 0

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a head the parser refused: 431 when it was refused for its size."""
        if not self._head_refused:
            super().send_400_response(msg)
            return
        message = (
            f"Request header fields too large: at most {self.max_head_bytes:,} bytes and {self.max_headers} headers "
            "(DOCSTORE_MAX_HEADER_BYTES, DOCSTORE_MAX_HEADERS)."
        ).encode()
        transport: asyncio.Transport = self.transport
        transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: text/plain; charset=utf-8\r\n"
            b"content-length: " + str(len(message)).encode() + b"\r\n"
            b"connection: close\r\n\r\n" + message
        )
        # Closing with the client's bytes unread would reset the connection, and the client could
        # lose the answer: end the sending side, drop what still comes, close after LINGER_SECONDS.
        if transport.can_write_eof():
            transport.write_eof()
            self.loop.call_later(LINGER_SECONDS, transport.close)
        else:
            transport.close()


def bounded_http(max_head_bytes: int, max_headers: int) -> type[BoundedHttpToolsProtocol]:
    """The protocol class for ``uvicorn.Config(http=...)`` with these limits."""
    return type(
        "BoundedHttpToolsProtocol",
        (BoundedHttpToolsProtocol,),
        {"max_head_bytes": max_head_bytes, "max_headers": max_headers},
    )
