"""A request's head and its body leave in one write to the socket, not two.

botocore means to send them together: its ``AWSConnection._send_output`` appends a body given as
bytes to the head, "to avoid performance problems caused by the interaction between delayed ack
and the Nagle algorithm". But urllib3 2 sends the body itself, after the head
(``HTTPConnection.request``: ``endheaders()``, then a ``send`` per chunk), so every DynamoDB and
SQS call made two writes, and the embedded AWS's server woke and read twice for each request.
Measured against the embedded AWS (docs/BENCHMARKS.md, "What one request costs the embedded AWS",
the hand note), one write takes about 0.15 ms of CPU off each call on each side.

:func:`install` keeps the head ``_send_output`` builds, for a request whose body is bytes, and
sends it with the body: the same bytes in the same order, one ``sendall``. A request that waits for
``100 Continue`` (botocore's ``Expect`` header, on large S3 bodies) sends its head alone as before,
and so does a request whose body is a stream, empty, or larger than :data:`MAX_BODY`.
"""

from __future__ import annotations

import threading
from typing import Any

from botocore.awsrequest import AWSConnection

#: Bodies up to this size go out with their head; a larger one is sent after it as before (copying
#: it behind the head would cost more than the write it saves).
MAX_BODY = 64 * 1024

_ORIGINAL: dict[str, Any] = {}
_LOCK = threading.Lock()


def _request(self: Any, method: str, url: str, body: Any = None, headers: Any = None, *args: Any, **kwargs: Any) -> Any:
    self._docstore_one_send = isinstance(body, bytes) and 0 < len(body) <= MAX_BODY
    try:
        return _ORIGINAL["request"](self, method, url, body, headers, *args, **kwargs)
    finally:
        self._docstore_one_send = False
        self._docstore_head = None  # sent with the body, or never (the request failed before)


def _send_output(self: Any, message_body: Any = None, *args: Any, **kwargs: Any) -> Any:
    if getattr(self, "_docstore_one_send", False) and message_body is None and not self._expect_header_set:
        self._buffer.extend((b"", b""))
        self._docstore_head = self._convert_to_bytes(self._buffer)
        del self._buffer[:]
        return None
    return _ORIGINAL["_send_output"](self, message_body, *args, **kwargs)


def _send(self: Any, data: Any) -> Any:
    head = getattr(self, "_docstore_head", None)
    if head is not None:
        self._docstore_head = None
        data = head + (data.encode("utf-8") if isinstance(data, str) else bytes(data))
    return _ORIGINAL["send"](self, data)


def install() -> None:
    """Send head and body together from now on, in every botocore client of this process; idempotent."""
    with _LOCK:
        if _ORIGINAL:
            return
        for name, replacement in (("request", _request), ("_send_output", _send_output), ("send", _send)):
            _ORIGINAL[name] = AWSConnection.__dict__[name]
            setattr(AWSConnection, name, replacement)


def uninstall() -> None:
    """botocore's own sending again (tests compare the two); idempotent."""
    with _LOCK:
        for name, original in _ORIGINAL.items():
            setattr(AWSConnection, name, original)
        _ORIGINAL.clear()


def installed() -> bool:
    return bool(_ORIGINAL)
