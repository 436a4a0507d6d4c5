"""docstore reindex: a new generation from the records, live in one step, changes made meanwhile kept."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from adapters.queue import SEARCH_INDEX
from adapters.search.base import IndexedDocument, SearchFilter
from adapters.search.tantivy_index import TantivyIndex
from settings import Settings
from tests.client import Api
from tests.resolvers.test_search import eventually, hit_ids, search, text_document, word
from workers.indexer import MARKER
from workers.rebuild import LOCK, RebuildRunning, rebuild

ROOT = Path(__file__).resolve().parents[2]


def in_index(backend: Any, owner_id: str, query: str) -> list[str]:
    backend.refresh()
    page = backend.search(owner_id, query, content=True, flt=SearchFilter(), offset=0, limit=10)
    return [hit.document_id for hit in page.hits]


def test_rebuild_keeps_answering_and_a_document_deleted_meanwhile_stays_gone(
    api: Api, live_server: Any, settings: Settings, store: Any
) -> None:
    user = api.sign_up("PREMIUM")
    kept_word, gone_word, renamed_word = word(), word(), word()
    kept = text_document(api, user, f"keep {kept_word}")
    gone = text_document(api, user, f"remove {gone_word}")
    eventually(api, user, kept_word, [kept["id"]])
    eventually(api, user, gone_word, [gone["id"]])
    services = live_server.app.state.services
    before = TantivyIndex.current_generation(settings.search_dir)
    answered_during: list[list[str]] = []

    def progress(item: IndexedDocument) -> None:
        if item.document_id != gone["id"]:
            return
        # The rebuild has read this document; now it is deleted and the kept one renamed.
        answered_during.append(hit_ids(search(api, user, kept_word)))
        assert api.data("DeleteDocument", {"input": {"id": gone["id"]}}, user.token)["deleteDocument"]["freedBytes"]
        renamed = api.data("UpdateDocument", {"input": {"id": kept["id"], "name": f"{renamed_word}.txt"}}, user.token)[
            "updateDocument"
        ]
        assert renamed["name"] == f"{renamed_word}.txt"
        deadline = time.monotonic() + 20
        while in_index(services.search, user.id, gone_word) or not in_index(services.search, user.id, renamed_word):
            assert time.monotonic() < deadline, "the live indexer did not take the changes"
            time.sleep(0.05)

    done = rebuild(settings.search_dir, store, services.queues[SEARCH_INDEX], progress=progress, grace_seconds=1)

    assert answered_during == [[kept["id"]]]
    assert done.generation != before
    assert TantivyIndex.current_generation(settings.search_dir) == done.generation
    assert done.replayed >= 2
    assert not (settings.search_dir / MARKER).exists()
    deadline = time.monotonic() + 20
    while in_index(services.search, user.id, gone_word) or not in_index(services.search, user.id, renamed_word):
        assert time.monotonic() < deadline, "the new generation did not catch up with the changes"
        time.sleep(0.05)
    assert in_index(services.search, user.id, kept_word) == [kept["id"]]
    eventually(api, user, renamed_word, [kept["id"]])


def test_a_second_rebuild_at_the_same_time_is_refused(settings: Settings, store: Any, live_server: Any) -> None:
    root = settings.search_dir
    with (root / LOCK).open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        before = TantivyIndex.current_generation(root)

        with pytest.raises(RebuildRunning):
            rebuild(root, store, live_server.app.state.services.queues[SEARCH_INDEX], grace_seconds=0)

        assert TantivyIndex.current_generation(root) == before
        assert not (root / MARKER).exists()


def test_reindex_command_prints_progress_and_a_summary(settings: Settings, live_server: Any, api: Api) -> None:
    user = api.sign_up("FREE")
    name = word()
    document = text_document(api, user, "x", filename=f"{name}.txt")
    eventually(api, user, name, [document["id"]])
    env = {
        **os.environ,
        "DOCSTORE_AWS_MODE": "endpoint",
        "DOCSTORE_AWS_ENDPOINT_URL": str(settings.aws_endpoint_url),
        "DOCSTORE_TABLE_PREFIX": settings.table_prefix,
    }

    finished = subprocess.run(
        [sys.executable, "-m", "server", "reindex", "--data-dir", str(settings.data_dir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.startswith("search index rebuilt: ")
    assert "reindex" in finished.stderr  # the progress bar
    assert "is live; changes made meanwhile are replayed in 5 s" in finished.stderr
    eventually(api, user, name, [document["id"]])


def test_an_index_of_another_schema_is_set_aside_for_an_empty_one(tmp_path: Path) -> None:
    import tantivy

    from adapters.search.tantivy_index import CURRENT
    from runtime.services import open_search

    root = tmp_path / "search"
    root.mkdir()
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("title", stored=True)
    old = "20200101T000000000000-0badc0de"
    (root / old).mkdir()
    tantivy.Index(builder.build(), path=str(root / old))
    (root / CURRENT).write_text(old + "\n")

    index = open_search(Settings(data_dir=tmp_path))

    assert index.generation != old
    assert TantivyIndex.current_generation(root) == index.generation
    assert (root / old).is_dir()  # set aside, not deleted: `collect` removes it later
    assert index.search("someone", "anything", content=True, flt=SearchFilter(), offset=0, limit=5).hits == []
