"""The content hash (``domain.content_hash``) against an independent computation: the blocks cut
with slicing and each hashed with ``hashlib``, and GNU ``split``, ``sha256sum`` and ``xxd``, the
recipe docs/CONTENT_HASH.md gives readers."""

from __future__ import annotations

import hashlib
import io
import itertools
import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import content_hash
from domain.content_hash import BLOCK_SIZE, ContentHasher

MiB = 1024 * 1024
#: SHA-256 of nothing: the hash of an empty file, which has no blocks.
EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def independent(data: bytes, block: int = BLOCK_SIZE) -> str:
    """SHA-256 of the concatenated SHA-256 digests of ``data``'s ``block``-byte slices."""
    digests = b"".join(hashlib.sha256(data[start : start + block]).digest() for start in range(0, len(data), block))
    return hashlib.sha256(digests).hexdigest()


def with_shell_tools(path: Path) -> str:
    """The recipe of docs/CONTENT_HASH.md, run by bash."""
    recipe = f"split -b 4194304 --filter=sha256sum '{path}' | cut -c1-64 | xxd -r -p | sha256sum | cut -c1-64"
    done = subprocess.run(["bash", "-o", "pipefail", "-c", recipe], capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture(scope="module")
def random_bytes() -> bytes:
    """Three whole blocks and a little more, random: no two blocks alike."""
    return os.urandom(3 * BLOCK_SIZE + 12345)


def test_an_empty_input_has_no_block_and_hashes_as_sha256_of_nothing() -> None:
    assert content_hash.of_bytes(b"") == EMPTY == hashlib.sha256(b"").hexdigest()
    assert ContentHasher().hexdigest() == EMPTY


def test_one_byte_is_one_block() -> None:
    assert content_hash.of_bytes(b"x") == hashlib.sha256(hashlib.sha256(b"x").digest()).hexdigest()


def test_exactly_one_block_has_no_empty_block_after_it(random_bytes: bytes) -> None:
    block = random_bytes[:BLOCK_SIZE]
    one = hashlib.sha256(hashlib.sha256(block).digest()).hexdigest()
    with_empty_block = hashlib.sha256(hashlib.sha256(block).digest() + hashlib.sha256(b"").digest()).hexdigest()

    assert content_hash.of_bytes(block) == one != with_empty_block


def test_one_byte_past_a_block_starts_a_second_block(random_bytes: bytes) -> None:
    data = random_bytes[: BLOCK_SIZE + 1]
    two = hashlib.sha256(hashlib.sha256(data[:BLOCK_SIZE]).digest() + hashlib.sha256(data[-1:]).digest())

    assert content_hash.of_bytes(data) == two.hexdigest()


def test_several_blocks(random_bytes: bytes) -> None:
    assert content_hash.of_bytes(random_bytes) == independent(random_bytes)
    # The blocks are 4 MiB: a different block size gives another hash.
    assert content_hash.of_bytes(random_bytes) != independent(random_bytes, block=MiB)


def test_it_is_not_the_plain_sha256_of_the_file(random_bytes: bytes) -> None:
    assert content_hash.of_bytes(random_bytes) != hashlib.sha256(random_bytes).hexdigest()


def test_chunks_that_straddle_block_boundaries_give_the_same_hash(random_bytes: bytes) -> None:
    hasher = ContentHasher()
    sizes = [1, BLOCK_SIZE - 2, 3, 7 * MiB, BLOCK_SIZE, 999_999]  # 4 MiB + 2 to start, then straddling
    position = 0
    for size in sizes:
        hasher.update(random_bytes[position : position + size])
        position += size
    hasher.update(random_bytes[position:])

    assert hasher.hexdigest() == independent(random_bytes)


def test_any_buffer_is_fed_as_its_bytes(random_bytes: bytes) -> None:
    hasher = ContentHasher()
    hasher.update(bytearray(random_bytes[:10]))
    hasher.update(memoryview(random_bytes)[10 : BLOCK_SIZE + 10])
    hasher.update(random_bytes[BLOCK_SIZE + 10 :])

    assert hasher.hexdigest() == independent(random_bytes)


def test_a_digest_taken_midway_leaves_the_hasher_going_on(random_bytes: bytes) -> None:
    hasher = ContentHasher()
    hasher.update(random_bytes[: BLOCK_SIZE + 5])
    midway, copy = hasher.hexdigest(), hasher.copy()
    hasher.update(random_bytes[BLOCK_SIZE + 5 :])

    assert midway == independent(random_bytes[: BLOCK_SIZE + 5])
    assert hasher.hexdigest() == independent(random_bytes)
    assert copy.hexdigest() == midway
    assert hasher.digest() == bytes.fromhex(hasher.hexdigest())


def test_a_stream_is_read_to_its_end(random_bytes: bytes) -> None:
    stream = io.BytesIO(random_bytes)

    assert content_hash.of_stream(stream) == independent(random_bytes)
    assert stream.read() == b""


class CountingStream(io.BytesIO):
    """A stream that records the size of every read asked of it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.asked: list[int | None] = []

    def read(self, size: int | None = -1, /) -> bytes:
        self.asked.append(size)
        return super().read(size)


def test_a_stream_is_read_a_bounded_chunk_at_a_time_never_whole(random_bytes: bytes) -> None:
    stream = CountingStream(random_bytes)

    assert content_hash.of_stream(stream) == independent(random_bytes)
    # 12 MiB and a bit: 13 reads of READ_SIZE (1 MiB) and the one that finds the end.
    assert stream.asked == [content_hash.READ_SIZE] * 14


@pytest.mark.parametrize("size", [0, 1, BLOCK_SIZE, BLOCK_SIZE + 1, 2 * BLOCK_SIZE + 77])
def test_shell_tools_give_the_same_hash(tmp_path: Path, random_bytes: bytes, size: int) -> None:
    path = tmp_path / "file"
    path.write_bytes(random_bytes[:size])

    assert content_hash.of_bytes(random_bytes[:size]) == with_shell_tools(path) == independent(random_bytes[:size])


def test_the_worked_example_of_the_docs() -> None:
    """docs/CONTENT_HASH.md: 10 MiB of zero bytes, three blocks; a line of text, one block."""
    assert content_hash.of_bytes(b"hello world\n") == (
        "f83e4b6bba3efac41f1ff56ee97adf7454680fee778924cb5ba06311d136ad1c"
    )
    assert content_hash.of_bytes(bytes(10 * MiB)) == (
        "cfbbdae2c77066b55ee0bca512cfca2299904017a44f1dc362f4cc4e3924925d"
    )


#: Lengths around nothing and around the first block boundary, where chunking could go wrong.
LENGTHS = st.integers(min_value=0, max_value=4096) | st.integers(
    min_value=BLOCK_SIZE - 4096, max_value=BLOCK_SIZE + 4096
)


@settings(max_examples=80, deadline=None)
@given(length=LENGTHS, data=st.data())
def test_the_hash_does_not_depend_on_how_the_input_is_chunked(
    random_bytes: bytes, length: int, data: st.DataObject
) -> None:
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=length), max_size=12), label="cuts")
    edges = sorted({0, length, *cuts})
    hasher = ContentHasher()
    for start, end in itertools.pairwise(edges):
        hasher.update(random_bytes[start:end])

    assert hasher.hexdigest() == independent(random_bytes[:length])
