"""The malloc arena limit (adapters/malloc.py): threads of a process that took it share the main
arena instead of making one each; a child gets it through glibc's environment variable."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from adapters import malloc
from adapters.local_aws import ROOT

#: glibc's arenas other than the main one are heaps of this size, aligned to it (64-bit).
HEAP_MAX = 64 << 20


def thread_arenas(pid: int | str = "self") -> int:
    """The malloc arenas a process made besides the main one, read from ``/proc/PID/maps``.

    glibc reserves each such arena's heap as 64 MiB of inaccessible memory at an address aligned
    to that size and opens its start for use, so a heap shows as an anonymous ``rw-p`` mapping at
    an aligned address followed by the ``---p`` rest of the reservation (or as the whole 64 MiB
    opened). Counting aligned anonymous mappings alone also counted any mapping that landed on
    such an address by chance (one did in CI)."""
    rows = []
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        fields = line.split()
        start, end = (int(address, 16) for address in fields[0].split("-"))
        rows.append((start, end, fields[1], len(fields) == 5))
    heaps = 0
    for (start, end, mode, anonymous), (after, last, rest, anonymous_rest) in zip(
        rows, [*rows[1:], (0, 0, "", False)], strict=True
    ):
        if not (anonymous and mode == "rw-p" and start % HEAP_MAX == 0):
            continue
        reserved = anonymous_rest and rest == "---p" and after == end and last >= start + HEAP_MAX
        heaps += end - start == HEAP_MAX or reserved
    return heaps


#: Six threads each allocate and hold blocks that malloc serves from an arena (above pymalloc's
#: 512 bytes, under the 128 KiB past which it maps them one by one); then the arenas are counted.
PROBE = textwrap.dedent(
    """
    import sys, threading
    from adapters import malloc
    from tests.adapters.test_malloc import thread_arenas

    taken = malloc.limit_arenas(int(sys.argv[1]))
    together = threading.Barrier(7)
    held = []

    def allocate():
        held.append([bytearray(60_000) for _ in range(20)])
        together.wait()

    threads = [threading.Thread(target=allocate) for _ in range(6)]
    for thread in threads:
        thread.start()
    together.wait()
    print(taken, thread_arenas())
    for thread in threads:
        thread.join()
    """
)


def probe(arenas: int) -> tuple[str, int]:
    output = subprocess.run(
        [sys.executable, "-c", PROBE, str(arenas)], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return output[0], int(output[1])


def test_with_a_limit_of_one_threads_share_the_main_arena() -> None:
    assert probe(1) == ("True", 0)


def test_with_a_limit_of_two_they_share_one_more() -> None:
    assert probe(2) == ("True", 1)


def test_without_a_limit_each_thread_makes_its_own() -> None:
    """glibc's default (eight per core: at least 8 here): what the limit is there to prevent."""
    assert probe(0) == ("False", 6)


def test_a_child_gets_the_limit_through_the_environment_and_nothing_else_changes() -> None:
    environment = {"PATH": "/usr/bin", "HOME": "/root"}
    assert malloc.child_environment(2, environment) == {"PATH": "/usr/bin", "HOME": "/root", "MALLOC_ARENA_MAX": "2"}
    assert malloc.child_environment(0, environment) == environment
    assert environment == {"PATH": "/usr/bin", "HOME": "/root"}
