"""What ``docstore sync`` remembers between runs, in ``DIR/.docstore-sync`` (JSON, written whole or
not at all: a new file renamed over the old one).

- ``account``, ``prefix``: whose documents, and which folder of them, the folder is synced with;
  another account or prefix is refused rather than merged.
- ``cursor``: the change feed's position after the last complete sync, and ``dirty`` when that
  sync left something undone (so the next run compares everything rather than trusting the feed).
- ``files``: each path (relative to DIR, ``/``-separated) as last synced: the document's id and
  version, the content hash both sides had, and the local file's size and modification time then
  (a file whose size and time are still those is not hashed again).
- ``uploads``: each upload started and not yet completed, recorded before its first byte is sent:
  the next run resumes it (a multipart upload sends only the parts S3 does not hold) or cancels it.
- ``refused``: files the server refused (a bad name, a type it does not store, rejected by its
  workers), with the content hash refused, so that the same bytes are not sent again every run.

Every name beginning with ``.docstore-sync`` in DIR is the client's own (this file, its lock,
downloads in progress) and never synced; a run deletes the temporary files a killed run left.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from client.api import ClientError

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

#: The state file's name in DIR; every name with this beginning is the client's, never synced.
NAME = ".docstore-sync"
FORMAT = 1
#: How the temporary files in DIR begin: a download in progress, the state being written.
DOWNLOADING = NAME + "-download-"
WRITING = NAME + "-state-"


@dataclass
class Synced:
    """One path as it was when last synced."""

    id: str
    version: int
    hash: str
    size: int
    mtime: int


@dataclass
class Upload:
    """An upload started and not completed: ``part_size`` is 0 for a single POST."""

    id: str
    hash: str
    size: int
    mtime: int
    part_size: int = 0


@dataclass
class Refusal:
    """A file the server refused, as it was then."""

    hash: str
    reason: str
    size: int
    mtime: int


@dataclass
class State:
    """The whole file."""

    account: str
    prefix: str
    cursor: str | None = None
    dirty: bool = True
    files: dict[str, Synced] = field(default_factory=dict)
    uploads: dict[str, Upload] = field(default_factory=dict)
    refused: dict[str, Refusal] = field(default_factory=dict)
    #: Paths whose upload was being asked for: written before the request and replaced by the
    #: upload's id once answered, so a run stopped in between leaves a trace of what it started.
    requesting: dict[str, str] = field(default_factory=dict)


def is_ours(name: str) -> bool:
    """Whether a name in DIR is the client's own (never synced)."""
    return name.startswith(NAME)


def load(root: Path, account: str, prefix: str) -> State:
    """The folder's state; a fresh one when it has none. :class:`ClientError` when it was synced
    with another account or prefix, or the file is not one of ours."""
    target = root / NAME
    try:
        raw: dict[str, Any] = json.loads(target.read_text())
    except FileNotFoundError:
        return State(account=account, prefix=prefix)
    except (OSError, ValueError) as error:
        raise ClientError(f"Cannot read {target}: {error}. Move it away to sync {root} from scratch.") from None
    try:
        if raw["format"] != FORMAT:
            raise ValueError(f"format {raw['format']}")
        state = State(
            account=str(raw["account"]),
            prefix=str(raw["prefix"]),
            cursor=raw["cursor"],
            dirty=bool(raw["dirty"]),
            files={path: Synced(**entry) for path, entry in raw["files"].items()},
            uploads={path: Upload(**entry) for path, entry in raw["uploads"].items()},
            refused={path: Refusal(**entry) for path, entry in raw["refused"].items()},
            requesting={str(path): str(ours) for path, ours in raw.get("requesting", {}).items()},
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ClientError(f"{target} is not a state file this client reads ({error}).") from None
    if state.account != account:
        raise ClientError(f"{root} is synced with another account: sign in to that one, or sync another folder.")
    if state.prefix != prefix:
        raise ClientError(f"{root} is synced with {state.prefix}, not {prefix}: run `docstore sync` with that prefix.")
    return state


def save(root: Path, state: State) -> None:
    """Write the state whole or not at all (a temporary file, flushed, renamed over the old one)."""
    descriptor, temporary = tempfile.mkstemp(dir=root, prefix=WRITING)
    try:
        with os.fdopen(descriptor, "w") as file:
            json.dump({"format": FORMAT, **asdict(state)}, file, indent=1, sort_keys=True)
            file.write("\n")
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, root / NAME)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def clear_leftovers(root: Path) -> None:
    """Delete the temporary files a run killed mid-write left in DIR (a download, the state):
    a run that ends any other way deletes its own. Only under the lock: no other run writes them."""
    for prefix in (DOWNLOADING, WRITING):
        for leftover in root.glob(glob.escape(prefix) + "*"):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()


@contextlib.contextmanager
def locked(root: Path) -> Iterator[None]:
    """Hold ``DIR/.docstore-sync.lock`` for the run: one sync of a folder at a time."""
    with (root / (NAME + ".lock")).open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ClientError(f"Another `docstore sync` is running in {root}.") from None
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
