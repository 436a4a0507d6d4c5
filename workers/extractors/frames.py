"""The framing of the messages between the pool (``workers.extraction``) and an extraction process
(``workers.extractors.sandbox``): an 8-byte big-endian length, then that many bytes of UTF-8 JSON.
Both ends read and write frames with these functions, each over its own kind of pipe."""

from __future__ import annotations

import json
import struct
from typing import Any

#: The header of a frame: the length of the JSON that follows.
HEADER = struct.Struct("!Q")


def encode(message: dict[str, Any]) -> bytes:
    """``message`` as one frame."""
    body = json.dumps(message, ensure_ascii=False).encode()
    return HEADER.pack(len(body)) + body


def length(header: bytes) -> int:
    """The length of the body that follows ``header`` (``HEADER.size`` bytes)."""
    (size,) = HEADER.unpack(header)
    return int(size)


def decode(body: bytes) -> dict[str, Any]:
    """The message a frame's body holds."""
    message: dict[str, Any] = json.loads(body)
    return message
