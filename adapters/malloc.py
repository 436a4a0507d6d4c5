"""How many malloc arenas a DocStore process may make (``DOCSTORE_MALLOC_ARENAS``).

glibc gives each new thread that allocates an arena of its own, up to eight per core, and memory
freed in an arena stays in it for that arena's later use. The API process runs dozens of threads
(the resolvers' thread pool, the workers' own pool, the search index's); under the 100-person load
(docs/BENCHMARKS.md) it held 16 arenas of 15 to 21 MiB each, 268 of its 330 MiB, most of it free
memory that no other arena could use. With two arenas the freed memory is shared. The Python side
holds the GIL, so threads seldom allocate at the same instant and a second arena is enough to keep
the C libraries that release it (tantivy, argon2, SQLite) from queueing on one lock.

``mallopt(M_ARENA_MAX)`` applies to the arenas made after the call: a process calls
:func:`limit_arenas` first thing, before it starts threads. A child process gets the same limit from
glibc's own environment variable (:func:`child_environment`), read when it starts. Elsewhere than
glibc both do nothing (no ``mallopt``, or another libc that ignores the variable).

No library does this (ctypes on glibc is the interface), so it is written here.
"""

from __future__ import annotations

import ctypes
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

log = logging.getLogger(__name__)

#: ``mallopt``'s parameter number for the arena limit (glibc's malloc.h).
M_ARENA_MAX = -8
#: The variable glibc reads at a process's start for the same limit.
ENVIRONMENT = "MALLOC_ARENA_MAX"


def limit_arenas(arenas: int) -> bool:
    """At most ``arenas`` malloc arenas in this process from now on (0: glibc's default, unchanged).
    Whether the C library took the limit."""
    if arenas <= 0:
        return False
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    taken = bool(mallopt(M_ARENA_MAX, arenas))
    if not taken:
        log.info("the C library did not take a limit of %d malloc arenas", arenas)
    return taken


def child_environment(arenas: int, environment: Mapping[str, str]) -> dict[str, str]:
    """``environment`` for a child process that should have at most ``arenas`` malloc arenas."""
    if arenas <= 0:
        return dict(environment)
    return {**environment, ENVIRONMENT: str(arenas)}
