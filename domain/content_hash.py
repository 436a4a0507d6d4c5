"""A document's content hash: Dropbox's block scheme, which any client computes from its own bytes.

SHA-256 of each 4 MiB block of the file (the last one may be shorter), then SHA-256 of those
blocks' binary digests concatenated, in hex. An empty file has no blocks: its hash is SHA-256 of
nothing. docs/CONTENT_HASH.md says why and shows how to check a value with shell tools.

The one implementation: the workers (fed while they download a document), ``docstore hash`` and
the terminal client use it. It is incremental and keeps no block in memory: ``update`` takes chunks
of any size and cuts blocks at exact 4 MiB boundaries of the whole input, so the hash never depends
on how the bytes were read. Its state is two ``hashlib`` objects, whatever the file's size.

Hand-written: PyPI has no small package for it (Dropbox's SDK computes none), and it is two
``hashlib.sha256`` objects and a counter. Imports nothing of DocStore, like the rest of ``domain/``.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import BinaryIO

#: The bytes of every block but the last.
BLOCK_SIZE = 4 * 1024 * 1024
#: How much ``of_stream`` reads at a time: the memory it needs, whatever the file's size.
READ_SIZE = 1024 * 1024
#: Characters in a content hash (hex of a SHA-256).
LENGTH = 64


class ContentHasher:
    """Computes a content hash incrementally, with the interface of a ``hashlib`` object
    (``update``, ``digest``, ``hexdigest``, ``copy``).

    >>> hasher = ContentHasher()
    >>> hasher.update(b"hello")
    >>> hasher.hexdigest() == hashlib.sha256(hashlib.sha256(b"hello").digest()).hexdigest()
    True
    """

    name = "docstore-content-hash"
    digest_size = 32
    block_size = BLOCK_SIZE

    def __init__(self) -> None:
        self._overall = hashlib.sha256()
        self._block = hashlib.sha256()
        self._in_block = 0  # bytes of the current block fed so far

    def update(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data).cast("B")
        while view:
            piece = view[: BLOCK_SIZE - self._in_block]
            self._block.update(piece)
            self._in_block += len(piece)
            view = view[len(piece) :]
            if self._in_block == BLOCK_SIZE:
                self._overall.update(self._block.digest())
                self._block = hashlib.sha256()
                self._in_block = 0

    def digest(self) -> bytes:
        """The hash of everything fed so far, as bytes; more may be fed afterwards."""
        overall = self._overall.copy()
        if self._in_block:  # a last, shorter block; a file of whole blocks (or none) has no empty one
            overall.update(self._block.digest())
        return overall.digest()

    def hexdigest(self) -> str:
        """The hash of everything fed so far, as 64 lower-case hex characters."""
        return self.digest().hex()

    def copy(self) -> ContentHasher:
        twin = ContentHasher()
        twin._overall, twin._block, twin._in_block = self._overall.copy(), self._block.copy(), self._in_block
        return twin


def of_bytes(data: bytes | bytearray | memoryview) -> str:
    """The content hash of ``data``."""
    hasher = ContentHasher()
    hasher.update(data)
    return hasher.hexdigest()


def of_stream(stream: BinaryIO) -> str:
    """The content hash of what is left to read in ``stream``, read ``READ_SIZE`` bytes at a time."""
    hasher = ContentHasher()
    while chunk := stream.read(READ_SIZE):
        hasher.update(chunk)
    return hasher.hexdigest()
