"""docs/BENCHMARKS.md: each benchmark owns one section between markers and rewrites only that."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "BENCHMARKS.md"

INTRO = """\
# Benchmarks

`make bench` runs every benchmark (`.venv/bin/python -m bench`; add `--quick` for a short run that
only checks they work and writes nothing here). Each benchmark rewrites its own section below,
between its markers; text outside the markers is kept.

The machine is small and shared: 2 cores, with the load generator, the embedded AWS (moto) and the
server all on it. Absolute figures move from run to run, so each benchmark compares two things
measured in the same run, alternating between them, and its result is a ratio.
"""


def markers(name: str) -> tuple[str, str]:
    return f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"


def write_section(name: str, body: str, path: Path = RESULTS) -> None:
    """Put ``body`` between the markers of ``name`` in ``path``: replaced if there, appended if not."""
    start, end = markers(name)
    section = f"{start}\n{body.strip()}\n{end}"
    text = path.read_text() if path.exists() else INTRO
    head, found, rest = text.partition(start)
    if found:
        _, closed, tail = rest.partition(end)
        if not closed:
            raise ValueError(f"{path}: {start} has no {end}")
        text = f"{head}{section}{tail}"
    else:
        text = f"{text.rstrip()}\n\n{section}\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
