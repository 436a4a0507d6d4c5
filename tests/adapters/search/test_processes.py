"""Several processes on one index folder: one writer, readers that follow commits and rebuilds."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
import tantivy

from adapters.search.base import IndexOutdated, WriterBusy
from adapters.search.tantivy_index import CURRENT, TantivyIndex
from tests.adapters.search.helpers import add, doc, ids

A = "acct-a"
PROJECT = Path(__file__).resolve().parents[3]


PRELUDE = """
from datetime import UTC, datetime
from pathlib import Path
from adapters.search.base import IndexedDocument
from adapters.search.tantivy_index import TantivyIndex
root = Path({root!r})
def named(document_id, name):
    now = datetime.now(UTC)
    return IndexedDocument("acct-a", document_id, name, (), "", "application/pdf", now, now, None)
"""


def run_python(code: str, root: Path) -> str:
    """Run ``code`` in a new interpreter with ``root`` bound; its stdout, stripped."""
    script = PRELUDE.format(root=str(root)) + textwrap.dedent(code)
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT,
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


TRY_WRITER = """
from adapters.search.base import WriterBusy
try:
    writer = TantivyIndex.open(root).writer()
except WriterBusy:
    print("busy")
else:
    writer.close()
    print("acquired")
"""


def test_a_second_process_gets_writer_busy_while_the_first_holds_the_writer(tmp_path: Path) -> None:
    root = tmp_path / "search"
    index = TantivyIndex.open(root)
    writer = index.writer()
    try:
        assert run_python(TRY_WRITER, root) == "busy"
        with pytest.raises(WriterBusy):
            index.writer()
    finally:
        writer.close()
    assert run_python(TRY_WRITER, root) == "acquired"
    index.writer().close()


def test_a_commit_in_another_process_is_visible_after_refresh(tmp_path: Path) -> None:
    root = tmp_path / "search"
    index = TantivyIndex.open(root)
    assert ids(index, A, "elsewhere") == []
    run_python(
        """
        with TantivyIndex.open(root).writer() as writer:
            writer.upsert([named("d1", "written elsewhere.pdf")])
            writer.commit()
        """,
        root,
    )
    index.refresh()
    assert ids(index, A, "elsewhere") == ["d1"]


def test_readers_in_other_processes_follow_a_promoted_generation(tmp_path: Path) -> None:
    root = tmp_path / "search"
    index = TantivyIndex.open(root)
    add(index, doc(A, "old", "before rebuild.pdf"))
    first = index.generation
    out = run_python(
        """
        generation, writer = TantivyIndex.new_generation(root)
        with writer:
            writer.upsert([named("new", "after rebuild.pdf")])
            writer.commit()
        TantivyIndex.promote(root, generation)
        print(generation)
        """,
        root,
    )
    assert ids(index, A, "rebuild") == ["old"]
    index.refresh()
    assert index.generation == out != first
    assert ids(index, A, "rebuild") == ["new"]
    assert TantivyIndex.current_generation(root) == out


def test_new_generation_stays_invisible_until_promoted(tmp_path: Path) -> None:
    root = tmp_path / "search"
    index = TantivyIndex.open(root)
    add(index, doc(A, "live", "live.pdf"))
    generation, writer = TantivyIndex.new_generation(root)
    with writer:
        writer.upsert([doc(A, "rebuilt", "live.pdf")])
        writer.commit()
    index.refresh()
    assert ids(index, A, "live") == ["live"]
    TantivyIndex.promote(root, generation)
    assert (root / CURRENT).read_text() == generation + "\n"
    index.refresh()
    assert ids(index, A, "live") == ["rebuilt"]
    with pytest.raises(ValueError, match="no index generation"):
        TantivyIndex.promote(root, "20260101T000000000000-deadbeef")
    assert (root / CURRENT).read_text() == generation + "\n"


def test_collect_keeps_the_live_and_the_newest_generation(tmp_path: Path) -> None:
    root = tmp_path / "search"
    index = TantivyIndex.open(root)
    first = index.generation
    second, writer = TantivyIndex.new_generation(root)
    writer.close()
    TantivyIndex.promote(root, second)
    in_progress, writer = TantivyIndex.new_generation(root)
    writer.close()
    assert TantivyIndex.collect(root) == []  # all touched within the last ten minutes
    assert TantivyIndex.collect(root, older_than=timedelta(0)) == [first]
    assert sorted(path.name for path in root.iterdir() if path.is_dir()) == sorted([second, in_progress])
    TantivyIndex.promote(root, in_progress)
    assert TantivyIndex.collect(root, older_than=timedelta(0)) == [second]
    assert [path.name for path in root.iterdir() if path.is_dir()] == [in_progress]


def test_open_creates_one_index_and_reopens_it(tmp_path: Path) -> None:
    root = tmp_path / "deep" / "search"
    first = TantivyIndex.open(root)
    add(first, doc(A, "d1", "kept.pdf"))
    again = TantivyIndex.open(root)
    assert again.generation == first.generation
    assert ids(again, A, "kept") == ["d1"]
    assert [path.name for path in root.iterdir() if path.is_dir()] == [first.generation]


def test_a_writer_opens_on_the_generation_current_names(tmp_path: Path) -> None:
    root = tmp_path / "search"
    index = TantivyIndex.open(root)
    generation, rebuilt = TantivyIndex.new_generation(root)
    rebuilt.close()
    TantivyIndex.promote(root, generation)
    with index.writer() as writer:
        assert writer.generation == generation
        writer.upsert([doc(A, "d1", "fresh.pdf")])
        writer.commit()
    index.refresh()
    assert index.generation == generation
    assert ids(index, A, "fresh") == ["d1"]


def test_an_index_with_another_schema_is_reported_as_outdated(tmp_path: Path) -> None:
    root = tmp_path / "search"
    (root / "20200101T000000000000-0badc0de").mkdir(parents=True)
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("title", stored=True)
    tantivy.Index(builder.build(), path=str(root / "20200101T000000000000-0badc0de"))
    (root / CURRENT).write_text("20200101T000000000000-0badc0de\n")
    with pytest.raises(IndexOutdated, match="docstore reindex"):
        TantivyIndex.open(root)
    generation, writer = TantivyIndex.new_generation(root)
    writer.close()
    TantivyIndex.promote(root, generation)
    assert ids(TantivyIndex.open(root), A, "anything") == []
