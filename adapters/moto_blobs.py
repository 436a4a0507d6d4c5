"""S3 object bytes on disk for the embedded AWS: moto keeps each object's value in a file of the data folder.

moto 5.2.5 keeps an object's bytes in a ``SpooledTemporaryFile`` of its ``FakeKey``: in memory up
to 5 MiB, in an anonymous temporary file past that, and gone with the process. Here each value is a
file under ``blobs/`` in the data folder instead, written once and never changed in place (a new
value is a new file), so memory does not grow with the bytes stored and a ``FakeKey`` pickles to
its metadata and the name of its file (``moto_state`` keeps that pickle in SQLite).

A file is removed only by :meth:`BlobStore.collect`, which the state store calls after it has
committed the change that stopped naming the file: a crash in between leaves an orphan file (swept
at the next start), never a key without its bytes.
"""

from __future__ import annotations

import contextlib
import os
import threading
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path


class BlobStore:
    """A folder of immutable value files, two hex characters of fan-out deep."""

    def __init__(self, root: Path, *, fsync: bool = False) -> None:
        self.root = root
        self.fsync = fsync
        self._garbage: list[str] = []
        self._lock = threading.Lock()
        root.mkdir(parents=True, exist_ok=True)

    def new_path(self) -> str:
        name = uuid.uuid4().hex
        folder = self.root / name[:2]
        folder.mkdir(exist_ok=True)
        return str(folder / name)

    def write(self, path: str, data: bytes, *, append: bool) -> None:
        with open(path, "ab" if append else "xb") as file:
            file.write(data)
            if self.fsync:
                file.flush()
                os.fsync(file.fileno())

    def discard(self, path: str) -> None:
        """``path`` is no longer a live value; it goes at the next :meth:`collect`."""
        with self._lock:
            self._garbage.append(path)

    def collect(self) -> None:
        """Remove the files discarded so far. Called after the change that dropped them is committed."""
        with self._lock:
            garbage, self._garbage = self._garbage, []
        for path in garbage:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def orphans(self, live: Iterable[str]) -> list[str]:
        """The files no value names (left by a crash between a commit and its collect). Call it
        before serving: a value written afterwards is a new file this list cannot hold."""
        keep = set(live)
        return [
            entry.path
            for folder in self.root.iterdir()
            if folder.is_dir()
            for entry in os.scandir(folder)
            if entry.path not in keep
        ]

    @staticmethod
    def remove(paths: Iterable[str]) -> int:
        """Remove ``paths`` (orphans found at start); how many were there."""
        removed = 0
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
                removed += 1
        return removed


class BlobBuffer:
    """The file-like object moto's ``FakeKey`` reads and writes its value through.

    moto only ever seeks, reads, truncates at 0, writes whole values and closes. A buffer that is
    ``owned`` discards its file when moto closes it (the key was deleted, overwritten or dropped); a
    borrowed one (a ``copy.deepcopy`` moto makes for a listing) shares the file and discards nothing.
    One a key, for the life of the process: its fields are slots (48 bytes less than a dictionary).
    """

    __slots__ = ("_position", "closed", "owned", "path", "store")

    def __init__(self, store: BlobStore, path: str | None = None, *, owned: bool = True) -> None:
        self.store = store
        self.path = path
        self.owned = owned
        self._position = 0
        self.closed = False

    def seek(self, position: int, whence: int = 0) -> int:
        if whence != 0:
            raise ValueError("only absolute seeks are supported")
        self._position = position
        return position

    def tell(self) -> int:
        return self._position

    def truncate(self, size: int | None = None) -> int:
        if (self._position if size is None else size) != 0:
            raise ValueError("values are replaced whole, never truncated part-way")
        self._release()
        return 0

    def write(self, data: bytes) -> int:
        if self.path is None:
            self.path = self.store.new_path()
            self.owned = True
            self.store.write(self.path, data, append=False)
        else:
            self.store.write(self.path, data, append=True)
        self._position += len(data)
        return len(data)

    def read(self, size: int = -1) -> bytes:
        if self.path is None:
            return b""
        with open(self.path, "rb") as file:
            file.seek(self._position)
            data = file.read() if size is None or size < 0 else file.read(size)
        self._position += len(data)
        return data

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._release()

    def _release(self) -> None:
        if self.path is not None and self.owned:
            self.store.discard(self.path)
        self.path = None


class _Restoring(threading.local):
    """Whether keys unpickled in this thread own their files: the loader's thread restores saved
    keys while request threads, already served, deep-copy keys for listings (borrowed copies)."""

    active = False


class _Patch:
    """Where the installed patch finds its store, and whether unpickled keys own their files."""

    store: BlobStore | None = None
    restoring = _Restoring()


def install(store: BlobStore) -> None:
    """Make every moto ``FakeKey`` created from now on keep its value in ``store``."""
    from moto.s3 import models as s3_models

    _Patch.store = store
    if getattr(s3_models.FakeKey, "_docstore_blobs", False):
        return

    class _TempfileShim:
        """Stands in for the ``tempfile`` module inside moto's S3 models: only its buffers change."""

        def __getattr__(self, name: str) -> Any:
            import tempfile

            return getattr(tempfile, name)

        @staticmethod
        def SpooledTemporaryFile(*_: Any, **__: Any) -> BlobBuffer:  # noqa: N802 (moto's name)
            assert _Patch.store is not None
            return BlobBuffer(_Patch.store)

    def getstate(key: Any) -> dict[str, Any]:
        state: dict[str, Any] = dict(key.__dict__)
        buffer = state.pop("_value_buffer")
        state.pop("lock", None)
        state["_blob_path"] = buffer.path
        return state

    def setstate(key: Any, state: dict[str, Any]) -> None:
        path = state.pop("_blob_path", None)
        key.__dict__.update(state)
        assert _Patch.store is not None
        key._value_buffer = BlobBuffer(_Patch.store, path, owned=_Patch.restoring.active)
        key.lock = threading.Lock()

    setattr(s3_models, "tempfile", _TempfileShim())  # noqa: B010 (a module moto does not export)
    key_class: Any = s3_models.FakeKey
    key_class.__getstate__ = getstate
    key_class.__setstate__ = setstate
    key_class._docstore_blobs = True


class restoring:  # noqa: N801 (used as a context manager, like contextlib's)
    """While loading saved keys, a ``FakeKey`` this thread unpickles owns the file it names (it is
    the live key); in other threads, unpickled keys stay borrowed copies."""

    def __enter__(self) -> None:
        _Patch.restoring.active = True

    def __exit__(self, *_: object) -> None:
        _Patch.restoring.active = False


def blob_path(key: Any) -> str | None:
    """The file holding a ``FakeKey``'s value (None for an empty value)."""
    buffer = key._value_buffer
    return buffer.path if isinstance(buffer, BlobBuffer) else None
