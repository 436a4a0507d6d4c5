"""``docstore sync DIR`` (client/sync.py), end to end against real uvicorn on the embedded AWS,
with real files: only the public API between the folders and the account."""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from client import sync
from client.api import Api as ClientApi
from client.sync_state import NAME
from domain import content_hash
from tests.client import Api, User
from tests.conftest import LiveServer
from tests.serving import ROOT, clean_env

MIB = 1024 * 1024
#: The part size of this module's server: the smallest S3 takes, so that files of a few MiB have several.
PART = 5 * MIB
TODAY = datetime.datetime.now(datetime.UTC).date().isoformat()


@pytest.fixture(scope="module")
def small_parts(settings: Any, target: Any) -> Any:
    """A second uvicorn on the session's AWS, asking for 5 MiB parts (and running the workers)."""
    server = LiveServer(dataclasses.replace(settings, multipart_part_bytes=PART))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def parts_api(small_parts: Any) -> Api:
    return Api(small_parts.url)


def tree(root: Path) -> dict[str, bytes]:
    """Every file ``docstore sync`` syncs under ``root``, with its bytes."""
    return {rel: (root / rel).read_bytes() for rel in sync.files_under(root)}


def text(size: int, seed: str) -> bytes:
    """``size`` bytes of text that the workers store as text/plain."""
    line = (seed * 40)[:79].encode() + b"\n"
    return (line * (size // len(line) + 1))[:size]


def gzip_like(size: int, seed: int) -> bytes:
    """``size`` bytes the workers store as application/gzip (its magic, then noise): not extracted."""
    noise = bytes((seed * 7919 + index * 31) % 251 for index in range(65536))
    return (b"\x1f\x8b" + noise * (size // len(noise) + 1))[:size]


class Counting(httpx.Client):
    """httpx to S3 that counts the parts PUT, and fails every PUT after the first ``allowed``."""

    def __init__(self, allowed: int | None = None) -> None:
        super().__init__(timeout=120)
        self.allowed = allowed
        self.puts: list[int] = []
        self.lock = threading.Lock()

    def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        if request.method == "PUT":
            number = int(httpx.URL(str(request.url)).params["partNumber"])
            with self.lock:
                if self.allowed is not None and len(self.puts) >= self.allowed:
                    raise httpx.ConnectError("the network went away", request=request)
                self.puts.append(number)
        return super().send(request, **kwargs)


def run_sync(
    url: str, user: User, root: Path, *, s3: httpx.Client | None = None, **options: Any
) -> tuple[sync.Report, list[str]]:
    said: list[str] = []
    with ClientApi(f"{url}/graphql", user.token) as api:
        report = sync.Sync(api, root, sync.Options(wait_seconds=60, **options), s3=s3, say=said.append).run()
    return report, said


def cli_sync(url: str, user: User, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``docstore sync DIR`` as a person runs it, with the token in DOCSTORE_TOKEN."""
    env = clean_env(DOCSTORE_TOKEN=user.token, HOME=str(root.parent), PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "cli", "sync", str(root), "--api", f"{url}/graphql", "--wait", "60", *args],
        cwd=root.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def documents(api: Api, user: User) -> dict[str, dict[str, Any]]:
    """The account's documents that hold a path, by path."""
    answer = api.data(
        "SyncCompare", {"input": {"files": [], "pathPrefix": "/"}}, token=user.token
    )["compareChecksums"]
    return {entry["document"]["path"]: entry["document"] for entry in answer}


def test_first_sync_uploads_the_folder_and_a_second_folder_gets_it(
    api: Api, user: User, live_url: str, tmp_path: Path
) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    (one / "notes" / "2026").mkdir(parents=True)
    two.mkdir()
    (one / "readme.txt").write_bytes(text(1000, "readme "))
    (one / "notes" / "2026" / "march.md").write_bytes(text(5000, "march "))

    report, said = run_sync(live_url, user, one)

    assert sorted(report.uploaded) == ["notes/2026/march.md", "readme.txt"]
    assert report.problems == []
    held = documents(api, user)
    assert sorted(held) == ["/notes/2026/march.md", "/readme.txt"]
    assert held["/readme.txt"]["contentHash"] in {None, content_hash.of_bytes(text(1000, "readme "))}

    report, said = run_sync(live_url, user, two)

    assert sorted(report.downloaded) == ["notes/2026/march.md", "readme.txt"]
    assert tree(two) == tree(one)
    state = json.loads((two / NAME).read_text())
    assert sorted(state["files"]) == ["notes/2026/march.md", "readme.txt"]
    assert state["uploads"] == {}
    assert state["dirty"] is False
    assert state["cursor"]
