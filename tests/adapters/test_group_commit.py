"""The embedded AWS writes requests' changes on a thread of its own, in the order they were captured."""

from __future__ import annotations

import sqlite3
import threading
from typing import TYPE_CHECKING

import pytest

from adapters.moto_state import Change, CommitFailed, GroupCommit, StateFile

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from pathlib import Path


class HeldStateFile(StateFile):
    """A state file whose commits wait for ``go`` once ``hold`` is set: a slow disk, on demand."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.hold = threading.Event()
        self.go = threading.Event()
        self.committing = threading.Event()

    def commit(self, changes: Iterable[Change]) -> int:
        if self.hold.is_set():
            self.committing.set()
            assert self.go.wait(30), "the test never let the commit go on"
        return super().commit(changes)


@pytest.fixture
def state(tmp_path: Path) -> Iterator[HeldStateFile]:
    state = HeldStateFile(tmp_path / "state.sqlite3")
    yield state
    state.go.set()
    state.close()


def on_disk(state: StateFile) -> dict[str, bytes]:
    """The members as another connection reads them from the file."""
    with sqlite3.connect(state.path) as db:
        return dict(db.execute("SELECT name, value FROM members WHERE container = 'c'").fetchall())


def change(name: str, value: bytes | None) -> list[Change]:
    return [Change("c", name, value)]


def blocked(state: HeldStateFile, journal: GroupCommit, name: str, value: bytes) -> int:
    """Capture ``name`` and wait until its commit is under way and held: later captures queue."""
    state.hold.set()
    number = journal.capture(lambda: change(name, value))
    assert state.committing.wait(10)
    return number


def test_a_capture_is_on_disk_once_its_wait_returns(state: HeldStateFile) -> None:
    journal = GroupCommit(state)
    journal.wait(journal.capture(lambda: change("a", b"1")))
    assert on_disk(state) == {"a": b"1"}
    journal.close()


def test_the_last_capture_of_a_record_is_what_stays_whatever_the_threads(state: HeldStateFile) -> None:
    journal = GroupCommit(state)
    last: dict[str, bytes] = {}
    guard = threading.Lock()
    counter = iter(range(10_000))

    def write(thread: int) -> None:
        for _ in range(50):
            name = f"k{thread % 3}"

            def changes(name: str = name) -> list[Change]:
                # Runs under the journal's lock: the order of captures is the order of these values.
                value = str(next(counter)).encode()
                with guard:
                    last[name] = value
                return change(name, value)

            journal.wait(journal.capture(changes))

    threads = [threading.Thread(target=write, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert on_disk(state) == last
    assert journal.captures == 400
    journal.close()


def test_a_read_waits_for_what_was_captured_before_it(state: HeldStateFile) -> None:
    journal = GroupCommit(state)
    written = blocked(state, journal, "a", b"1")
    read_returned = threading.Event()

    def read() -> None:
        journal.wait(journal.horizon())
        read_returned.set()

    reader = threading.Thread(target=read)
    reader.start()
    assert not read_returned.wait(0.2)  # the write is not on disk: the read may not answer yet
    assert on_disk(state) == {}
    state.go.set()
    journal.wait(written)
    reader.join(10)
    assert read_returned.is_set()
    assert on_disk(state) == {"a": b"1"}
    journal.close()


def test_captures_made_during_a_commit_are_written_together(state: HeldStateFile) -> None:
    journal = GroupCommit(state)
    first = blocked(state, journal, "first", b"0")
    numbers = [journal.capture(lambda n=n: change(f"k{n}", str(n).encode())) for n in range(10)]  # type: ignore[misc]
    assert journal.batches == 0
    state.go.set()
    journal.wait(first)
    journal.wait(numbers[-1])
    assert journal.batches == 2
    assert journal.captures == 11
    assert on_disk(state) == {"first": b"0", **{f"k{n}": str(n).encode() for n in range(10)}}
    journal.close()


def test_a_capture_of_nothing_writes_nothing(state: HeldStateFile) -> None:
    journal = GroupCommit(state)
    journal.wait(journal.capture(list))
    assert journal.batches == 0
    assert on_disk(state) == {}
    journal.close()


def test_a_batch_that_cannot_be_written_fails_its_requests_and_writes_none_of_it(state: HeldStateFile) -> None:
    journal = GroupCommit(state)
    journal.wait(journal.capture(lambda: change("kept", b"1")))
    blocker = blocked(state, journal, "blocker", b"2")
    # Queued behind the blocked commit, so both land in the next batch: one good, one unwritable.
    good = journal.capture(lambda: change("good", b"3"))
    bad = journal.capture(lambda: [Change("c", "bad", object())])  # type: ignore[arg-type]
    state.hold.clear()
    state.go.set()
    journal.wait(blocker)
    with pytest.raises(CommitFailed, match="could not be saved"):
        journal.wait(good)
    with pytest.raises(CommitFailed):
        journal.wait(bad)
    assert on_disk(state) == {"kept": b"1", "blocker": b"2"}
    # The journal goes on: the next change is written.
    journal.wait(journal.capture(lambda: change("after", b"4")))
    assert on_disk(state) == {"kept": b"1", "blocker": b"2", "after": b"4"}
    journal.close()


def test_closing_writes_what_was_captured_and_refuses_more(state: HeldStateFile) -> None:
    journal = GroupCommit(state)
    blocked(state, journal, "a", b"1")
    journal.capture(lambda: change("b", b"2"))
    state.go.set()
    journal.close()
    assert on_disk(state) == {"a": b"1", "b": b"2"}
    with pytest.raises(CommitFailed, match="stopping"):
        journal.capture(lambda: change("c", b"3"))
    assert on_disk(state) == {"a": b"1", "b": b"2"}
