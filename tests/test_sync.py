"""``docstore sync DIR`` (client/sync.py), end to end against real uvicorn on the embedded AWS,
with real files: only the public API between the folders and the account."""

from __future__ import annotations

import dataclasses
import datetime
import fcntl
import http.server
import json
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import termios
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import time_machine
from tqdm import tqdm

from client import sync, sync_state
from client.api import Api as ClientApi
from client.api import ClientError
from client.sync_state import NAME
from domain import content_hash
from tests import plain_http
from tests.client import Api, User, post_form
from tests.conftest import LiveServer
from tests.serving import ROOT, clean_env

MIB = 1024 * 1024
#: The part size of this module's server: the smallest S3 takes, so that files of a few MiB have several.
PART = 5 * MIB
#: The end of what a run that found nothing to do says.
NOTHING_DONE = ": 0 uploaded, 0 downloaded, 0 deleted here, 0 deleted on the server, 0 conflicts kept as copies.\n"
TODAY = datetime.datetime.now(datetime.UTC).date().isoformat()


@pytest.fixture(scope="module")
def small_parts(settings: Any, target: Any, live_server: LiveServer) -> Any:
    """A second uvicorn on the session's AWS, asking for 5 MiB parts. The session's server runs the
    workers: a second consumer stopped at the end of the module could take a message of the next
    module's from SQS as it stops, and leave it hidden for its visibility timeout (5 minutes)."""
    server = LiveServer(dataclasses.replace(settings, multipart_part_bytes=PART, run_workers=False))
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
    """httpx to S3 that counts the parts PUT, and fails every PUT after the first ``allowed``.
    With ``together``, each PUT waits until that many are under way before it is sent: a client that
    sent its parts one at a time would leave the first waiting alone, and it fails."""

    def __init__(self, allowed: int | None = None, together: int | None = None) -> None:
        super().__init__(timeout=120)
        self.allowed = allowed
        self.puts: list[int] = []
        self.methods: list[str] = []  # of every request: a form's POST, a part's PUT, a download's GET
        self.lock = threading.Lock()
        self.together = None if together is None else threading.Barrier(together, timeout=60)

    def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        with self.lock:
            self.methods.append(request.method)
        if request.method == "PUT":
            number = int(httpx.URL(str(request.url)).params["partNumber"])
            with self.lock:
                if self.allowed is not None and len(self.puts) >= self.allowed:
                    raise httpx.ConnectError("the network went away", request=request)
                self.puts.append(number)
            if self.together is not None:
                try:
                    self.together.wait()
                except threading.BrokenBarrierError:
                    raise httpx.ConnectError("the other parts never came", request=request) from None
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


class Recording(ClientApi):
    """The client's API, remembering the name of each operation it calls."""

    def __init__(self, url: str, token: str | None = None) -> None:
        super().__init__(url, token)
        self.called: list[str] = []

    def call(self, name: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        self.called.append(name)
        return super().call(name, variables)


def recorded_sync(url: str, user: User, root: Path) -> tuple[sync.Report, list[str]]:
    """A run of ``docstore sync``: its report, and the operations it called, in order."""
    with Recording(f"{url}/graphql", user.token) as api:
        report = sync.Sync(api, root, sync.Options(wait_seconds=60), say=lambda _: None).run()
    return report, api.called


@dataclasses.dataclass
class Watched:
    """A run of ``docstore sync`` with everything it did: its report, what it said, the operations
    it called in order, and the methods of its requests to S3."""

    report: sync.Report
    said: list[str]
    called: list[str]
    s3: list[str]


def watched_sync(url: str, user: User, root: Path, api: Recording | None = None, **options: Any) -> Watched:
    said: list[str] = []
    s3 = Counting()
    with api or Recording(f"{url}/graphql", user.token) as client:
        report = sync.Sync(client, root, sync.Options(wait_seconds=60, **options), s3=s3, say=said.append).run()
    return Watched(report, said, client.called, s3.methods)


def feed(api: Api, user: User) -> list[tuple[int, str, str, str]]:
    """The account's change feed: (sequence, kind, document id, path) per change."""
    page = api.data("Changes", {"first": 100}, user.token)["changes"]
    return [
        (edge["node"]["sequence"], edge["node"]["kind"], edge["node"]["documentId"], edge["node"]["path"])
        for edge in page["edges"]
    ]


def cli_sync_on_a_terminal(url: str, user: User, root: Path, *args: str) -> tuple[int, str]:
    """``docstore sync DIR`` with its standard error on a terminal (a pseudo-terminal of 120 columns,
    where progress bars are shown): the return code, and what the terminal received."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    env = clean_env(DOCSTORE_TOKEN=user.token, HOME=str(root.parent), PYTHONPATH=str(ROOT))
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "sync", str(root), "--api", f"{url}/graphql", "--wait", "60", *args],
        cwd=root.parent,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=terminal,
    )
    os.close(terminal)
    shown = bytearray()
    try:
        while True:
            ready, _, _ = select.select([controller], [], [], 300)
            if not ready:
                raise AssertionError("docstore sync wrote nothing to its terminal for 5 minutes")
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the command ended and closed the terminal
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(controller)
        if process.poll() is None:
            process.kill()
    return process.wait(timeout=60), shown.decode(errors="replace")


def documents(api: Api, user: User) -> dict[str, dict[str, Any]]:
    """The account's documents that hold a path, by path."""
    answer = api.data("SyncCompare", {"input": {"files": [], "pathPrefix": "/"}}, token=user.token)["compareChecksums"]
    return {entry["document"]["path"]: entry["document"] for entry in answer}


def test_first_sync_uploads_the_folder_and_a_second_folder_gets_it(
    api: Api, user: User, live_url: str, tmp_path: Path
) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    (one / "notes" / "2026").mkdir(parents=True)
    two.mkdir()
    (one / "readme.txt").write_bytes(text(1000, "readme "))
    (one / "notes" / "2026" / "march.md").write_bytes(text(5000, "march "))

    report, _ = run_sync(live_url, user, one)

    assert sorted(report.uploaded) == ["notes/2026/march.md", "readme.txt"]
    assert report.problems == []
    held = documents(api, user)
    assert sorted(held) == ["/notes/2026/march.md", "/readme.txt"]
    assert held["/readme.txt"]["contentHash"] in {None, content_hash.of_bytes(text(1000, "readme "))}

    report, _ = run_sync(live_url, user, two)

    assert sorted(report.downloaded) == ["notes/2026/march.md", "readme.txt"]
    assert tree(two) == tree(one)
    state = json.loads((two / NAME).read_text())
    assert sorted(state["files"]) == ["notes/2026/march.md", "readme.txt"]
    assert state["uploads"] == {}
    assert state["dirty"] is False
    assert state["cursor"]


def test_edits_and_deletions_travel_both_ways_and_a_quiet_run_does_nothing(
    api: Api, user: User, live_url: str, tmp_path: Path
) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    for name in ("keep.txt", "edit-here.txt", "edit-there.txt", "drop-here.txt", "drop-there.txt"):
        (one / name).write_bytes(text(300, name))
    run_sync(live_url, user, one)
    run_sync(live_url, user, two)
    before = documents(api, user)

    (one / "edit-here.txt").write_bytes(text(400, "edited in one "))
    (one / "drop-here.txt").unlink()
    (two / "edit-there.txt").write_bytes(text(500, "edited in two "))
    (two / "drop-there.txt").unlink()
    report_two, _ = run_sync(live_url, user, two)
    report_one, _ = run_sync(live_url, user, one)
    report_two_again, _ = run_sync(live_url, user, two)

    assert (report_two.uploaded, report_two.deleted_there) == (["edit-there.txt"], ["drop-there.txt"])
    assert sorted(report_one.uploaded) == ["edit-here.txt"]
    assert report_one.deleted_there == ["drop-here.txt"]
    assert report_one.downloaded == ["edit-there.txt"]
    assert report_one.deleted_here == ["drop-there.txt"]
    assert report_two_again.downloaded == ["edit-here.txt"]
    assert report_two_again.deleted_here == ["drop-here.txt"]
    expected = {
        "keep.txt": text(300, "keep.txt"),
        "edit-here.txt": text(400, "edited in one "),
        "edit-there.txt": text(500, "edited in two "),
    }
    assert tree(one) == tree(two) == expected
    after = documents(api, user)
    assert sorted(after) == ["/edit-here.txt", "/edit-there.txt", "/keep.txt"]
    # An edit is a new version of the same document, not a new document.
    assert after["/edit-here.txt"]["id"] == before["/edit-here.txt"]["id"]
    assert after["/edit-here.txt"]["version"] == before["/edit-here.txt"]["version"] + 1

    quiet, said = run_sync(live_url, user, one)

    assert quiet == sync.Report()
    assert said == []


def edited_on_both_sides(live_url: str, user: User, tmp_path: Path) -> tuple[Path, Path]:
    """Two folders synced with one account, ``plan.txt`` then edited in both and the first
    folder's edit synced: the second folder's next run meets a conflict."""
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    (one / "plan.txt").write_bytes(text(300, "first plan "))
    run_sync(live_url, user, one)
    run_sync(live_url, user, two)
    (one / "plan.txt").write_bytes(text(310, "one's plan "))
    (two / "plan.txt").write_bytes(text(320, "two's plan "))
    run_sync(live_url, user, one)
    return one, two


def test_a_file_changed_on_both_sides_is_kept_twice(api: Api, user: User, live_url: str, tmp_path: Path) -> None:
    one, two = edited_on_both_sides(live_url, user, tmp_path)
    report, said = run_sync(live_url, user, two)
    run_sync(live_url, user, one)

    copy = f"plan (conflicted copy {TODAY}).txt"
    assert report.conflicts == [("plan.txt", copy)]
    assert f"plan.txt: changed on both sides; yours is kept as {copy}" in said
    assert tree(one) == tree(two) == {"plan.txt": text(310, "one's plan "), copy: text(320, "two's plan ")}
    assert sorted(documents(api, user)) == ["/plan (conflicted copy " + TODAY + ").txt", "/plan.txt"]


def test_a_conflicted_copy_is_named_for_the_day_and_numbered_from_2_when_taken() -> None:
    day = datetime.date(2026, 12, 3)
    taken = {"docs/plan (conflicted copy 2026-12-03).txt", "docs/plan (conflicted copy 2026-12-03 2).txt"}

    assert sync.conflicted_name("docs/plan.txt", day, lambda _: False) == "docs/plan (conflicted copy 2026-12-03).txt"
    assert sync.conflicted_name("docs/plan.txt", day, taken.__contains__) == (
        "docs/plan (conflicted copy 2026-12-03 3).txt"
    )
    assert sync.conflicted_name("Makefile", day, lambda _: False) == "Makefile (conflicted copy 2026-12-03)"


def test_a_version_made_on_the_server_meanwhile_is_not_overwritten(
    api: Api, user: User, live_url: str, tmp_path: Path
) -> None:
    one = tmp_path / "one"
    one.mkdir()
    (one / "a.txt").write_bytes(text(300, "first "))
    run_sync(live_url, user, one)
    held = api.settled(user, documents(api, user)["/a.txt"]["id"])
    # Another client adds a version (OVERWRITE) after this folder last synced.
    form = api.data(
        "RequestUpload",
        {"input": {"filename": "a.txt", "path": "/a.txt", "mode": "OVERWRITE", "contentType": "text/plain", "size": 7}},
        token=user.token,
    )["requestUpload"]
    post_form(form, b"server\n")
    completed = api.data("CompleteUpload", {"input": {"documentId": form["documentId"]}}, token=user.token)
    assert completed["completeUpload"]["__typename"] == "Document"
    (one / "a.txt").write_bytes(text(333, "local edit "))

    report, _ = run_sync(live_url, user, one)

    copy = f"a (conflicted copy {TODAY}).txt"
    assert report.conflicts == [("a.txt", copy)]
    assert tree(one) == {"a.txt": b"server\n", copy: text(333, "local edit ")}
    after = documents(api, user)
    assert after["/a.txt"]["id"] == held["id"]
    assert after["/a.txt"]["version"] == held["version"] + 1
    assert after["/a.txt"]["contentHash"] == content_hash.of_bytes(b"server\n")


def test_two_clients_syncing_at_once_end_equal_with_every_conflict_kept_twice(
    api: Api, user: User, live_url: str, tmp_path: Path
) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    for number in range(6):
        (one / f"f{number}.txt").write_bytes(text(200 + number, f"original {number} "))
    assert cli_sync(live_url, user, one).returncode == 0
    assert cli_sync(live_url, user, two).returncode == 0
    assert tree(one) == tree(two)
    # Edits on both sides: some apart, some the same file, some a delete against an edit.
    (one / "f1.txt").write_bytes(text(300, "one edits f1 "))
    (two / "f2.txt").write_bytes(text(300, "two edits f2 "))
    (one / "f3.txt").write_bytes(text(300, "one edits f3 "))
    (two / "f3.txt").write_bytes(text(310, "two edits f3 "))
    (one / "f4.txt").unlink()
    (two / "f4.txt").write_bytes(text(300, "two edits f4 "))
    (two / "f5.txt").unlink()
    (one / "new.txt").write_bytes(text(100, "one's new "))
    (two / "new.txt").write_bytes(text(110, "two's new "))
    (one / "sub").mkdir()
    (one / "sub" / "only-one.txt").write_bytes(text(50, "only one "))
    (two / "only-two.txt").write_bytes(text(60, "only two "))

    outputs: list[str] = []
    for _ in range(4):  # both at once, until both find nothing to do
        with ThreadPoolExecutor(2) as pool:
            runs = list(pool.map(lambda root: cli_sync(live_url, user, root), (one, two)))
        results = dict(zip(("one", "two"), runs, strict=True))
        outputs += [results[name].stdout + results[name].stderr for name in ("one", "two")]
        if all(result.returncode == 0 and result.stdout.endswith(NOTHING_DONE) for result in results.values()):
            break
    else:
        raise AssertionError("the two folders never settled:\n" + "\n".join(outputs))

    final = tree(one)
    assert final == tree(two), outputs
    copy = f" (conflicted copy {TODAY}).txt"
    assert sorted(final) == sorted(
        [
            "f0.txt",
            "f1.txt",
            "f2.txt",
            "f3.txt",
            "f3" + copy,
            "f4.txt",
            "new.txt",
            "new" + copy,
            "only-two.txt",
            "sub/only-one.txt",
        ]
    ), outputs
    assert final["f0.txt"] == text(200, "original 0 ")
    assert final["f1.txt"] == text(300, "one edits f1 ")
    assert final["f2.txt"] == text(300, "two edits f2 ")
    assert {final["f3.txt"], final["f3" + copy]} == {text(300, "one edits f3 "), text(310, "two edits f3 ")}
    assert final["f4.txt"] == text(300, "two edits f4 ")  # an edit beats a delete: nothing lost
    assert {final["new.txt"], final["new" + copy]} == {text(100, "one's new "), text(110, "two's new ")}
    assert final["sub/only-one.txt"] == text(50, "only one ")
    assert final["only-two.txt"] == text(60, "only two ")
    held = documents(api, user)
    assert sorted(held) == sorted("/" + rel for rel in final)
    assert all(held["/" + rel]["contentHash"] == content_hash.of_bytes(data) for rel, data in final.items())
    assert all(user.token not in output for output in outputs)


def test_an_interrupted_multipart_upload_resumes_without_sending_its_finished_parts_again(
    parts_api: Api, user: User, small_parts: Any, tmp_path: Path
) -> None:
    one = tmp_path / "one"
    one.mkdir()
    data = gzip_like(3 * PART + 1000, seed=1)  # 4 parts: 5, 5, 5 MiB and 1000 bytes
    (one / "big.gz").write_bytes(data)
    dropping = Counting(allowed=2)

    report, _ = run_sync(small_parts.url, user, one, s3=dropping, multipart_threshold=MIB, parallel=1)

    assert dropping.puts == [1, 2]
    assert report.uploaded == []
    assert report.problems == ["big.gz: a part could not be sent to S3: the network went away"]
    pending = json.loads((one / NAME).read_text())["uploads"]["big.gz"]
    assert pending["hash"] == content_hash.of_bytes(data)
    assert pending["part_size"] == PART
    held = parts_api.data("UploadedParts", {"documentId": pending["id"]}, token=user.token)["uploadedParts"]
    assert [part["number"] for part in held] == [1, 2]

    counting = Counting()
    report, said = run_sync(small_parts.url, user, one, s3=counting, multipart_threshold=MIB, parallel=4)

    assert sorted(counting.puts) == [3, 4]
    assert "big.gz: resuming its upload" in said
    assert report.uploaded == ["big.gz"]
    assert json.loads((one / NAME).read_text())["uploads"] == {}
    assert documents(parts_api, user)["/big.gz"]["id"] == pending["id"]
    two = tmp_path / "two"
    two.mkdir()
    run_sync(small_parts.url, user, two)  # waits for the server's content hash, then checks the bytes against it
    assert tree(two) == {"big.gz": data}
    assert documents(parts_api, user)["/big.gz"]["contentHash"] == content_hash.of_bytes(data)


def test_files_of_several_mib_go_both_ways_through_the_command(
    parts_api: Api, user: User, small_parts: Any, tmp_path: Path
) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    big = gzip_like(23 * MIB + 17, seed=2)  # 5 parts
    medium = text(3 * MIB + 5, "a text of a few MiB ")  # one POST
    (one / "big.gz").write_bytes(big)
    (one / "medium.txt").write_bytes(medium)

    sent = cli_sync(small_parts.url, user, one, "--multipart-threshold", "4")
    got = cli_sync(small_parts.url, user, two)

    assert (sent.returncode, got.returncode) == (0, 0), sent.stderr + got.stderr
    assert sent.stdout.splitlines()[:2] == ["big.gz: uploaded", "medium.txt: uploaded"]
    assert got.stdout.splitlines()[:2] == ["big.gz: downloaded", "medium.txt: downloaded"]
    assert tree(two) == {"big.gz": big, "medium.txt": medium}
    held = documents(parts_api, user)
    assert held["/big.gz"]["contentHash"] == content_hash.of_bytes(big)
    assert held["/medium.txt"]["contentHash"] == content_hash.of_bytes(medium)
    assert user.token not in sent.stdout + sent.stderr + got.stdout + got.stderr


def test_parts_go_to_s3_several_at_once(parts_api: Api, user: User, small_parts: Any, tmp_path: Path) -> None:
    one = tmp_path / "one"
    one.mkdir()
    data = gzip_like(3 * PART + 1000, seed=4)  # 4 parts
    (one / "big.gz").write_bytes(data)
    together = Counting(together=4)  # each PUT is held until all 4 are under way

    report, _ = run_sync(small_parts.url, user, one, s3=together, multipart_threshold=MIB, parallel=4)

    assert (report.uploaded, report.problems) == (["big.gz"], [])
    assert sorted(together.puts) == [1, 2, 3, 4]
    settled = parts_api.settled(user, documents(parts_api, user)["/big.gz"]["id"])
    assert (settled["status"], settled["contentHash"]) == ("READY", content_hash.of_bytes(data))


def test_a_terminal_shows_a_progress_bar_for_each_file_sent(
    parts_api: Api, user: User, small_parts: Any, tmp_path: Path
) -> None:
    one = tmp_path / "one"
    one.mkdir()
    big, small = gzip_like(2 * PART + 1000, seed=5), text(3000, "a small file ")  # 3 parts; one POST
    (one / "big.gz").write_bytes(big)
    (one / "small.txt").write_bytes(small)

    code, shown = cli_sync_on_a_terminal(small_parts.url, user, one, "--multipart-threshold", "1")

    assert code == 0, shown
    for name, size in (("big.gz", len(big)), ("small.txt", len(small))):
        total = re.escape(tqdm.format_sizeof(size, divisor=1024))  # 10.0M, 2.93k
        assert re.search(rf"{re.escape(name)}: 100%\|[^|\r\n]*\| {total}/{total} \[", shown), shown
    assert sorted(documents(parts_api, user)) == ["/big.gz", "/small.txt"]
    assert user.token not in shown


def test_the_cursor_kept_lets_a_quiet_run_ask_only_the_feed_which_tells_it_of_a_delete(
    api: Api, user: User, live_url: str, tmp_path: Path
) -> None:
    one = tmp_path / "one"
    one.mkdir()
    (one / "a.txt").write_bytes(text(300, "a "))
    (one / "b.txt").write_bytes(text(300, "b "))
    run_sync(live_url, user, one)
    state = json.loads((one / NAME).read_text())
    assert state["cursor"] == api.data("LatestChangeCursor", token=user.token)["latestChangeCursor"]
    assert state["dirty"] is False

    quiet, called = recorded_sync(live_url, user, one)

    assert quiet == sync.Report()
    assert called == ["Me", "Changes"]  # nothing after the cursor: no comparison
    # Another client deletes b.txt; nothing changed in the folder, so only the feed can say so.
    held = documents(api, user)
    deleted = api.data("DeleteDocument", {"input": {"id": held["/b.txt"]["id"]}}, token=user.token)
    assert deleted["deleteDocument"]["__typename"] == "DeleteDocumentPayload"

    report, called = recorded_sync(live_url, user, one)

    assert report.deleted_here == ["b.txt"]
    assert called[:2] == ["Me", "Changes"]
    assert "SyncCompare" in called
    assert tree(one) == {"a.txt": text(300, "a ")}
    after = json.loads((one / NAME).read_text())
    assert after["cursor"] == api.data("LatestChangeCursor", token=user.token)["latestChangeCursor"]
    assert after["cursor"] != state["cursor"]


def test_a_cursor_past_the_feeds_retention_makes_the_next_run_compare_everything(
    api: Api, user: User, live_url: str, tmp_path: Path, two_days: None
) -> None:
    one = tmp_path / "one"
    one.mkdir()
    (one / "a.txt").write_bytes(text(300, "a "))
    (one / "b.txt").write_bytes(text(300, "b "))
    run_sync(live_url, user, one)
    held = documents(api, user)
    api.data("DeleteDocument", {"input": {"id": held["/b.txt"]["id"]}}, token=user.token)

    with time_machine.travel(datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=2, hours=1), tick=True):
        expired = api.call("Changes", {"after": json.loads((one / NAME).read_text())["cursor"]}, user.token)
        report, called = recorded_sync(live_url, user, one)

    assert expired == {
        "data": {
            "changes": {
                "__typename": "CursorExpiredError",
                "message": (
                    "Changes after position 2 are no longer kept (changes are kept 2 days); "
                    "compare the whole tree, then start again from latestChangeCursor."
                ),
                "retentionDays": 2,
            }
        }
    }
    assert called[:4] == ["Me", "Changes", "LatestChangeCursor", "SyncCompare"]  # the feed could not say: compared
    assert report.deleted_here == ["b.txt"]
    assert report.problems == []
    assert tree(one) == {"a.txt": text(300, "a ")}


def test_a_folder_that_does_not_exist_is_refused_and_not_made(user: User, live_url: str, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"

    result = cli_sync(live_url, user, missing)

    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"docstore: {missing} is not a folder: nothing was synced.\n"
    assert not missing.exists()


def test_files_the_server_refuses_are_said_left_alone_and_the_rest_synced(
    api: Api, user: User, live_url: str, tmp_path: Path
) -> None:
    one = tmp_path / "one"
    one.mkdir()
    (one / "good.txt").write_bytes(text(100, "good "))
    (one / "back\\slash.txt").write_bytes(text(100, "bad path "))
    (one / "tool.exe").write_bytes(b"MZ" + bytes(100))

    result = cli_sync(live_url, user, one)

    assert result.returncode == 1
    assert result.stdout.splitlines()[0] == "good.txt: uploaded"
    problems = result.stderr.splitlines()
    assert problems[0].startswith("docstore: back\\slash.txt: left alone, the server refuses its path: ")
    assert (
        problems[1] == "docstore: tool.exe: not uploaded: DocStore does not store 'application/x-msdos-program' files."
    )
    assert sorted(documents(api, user)) == ["/good.txt"]
    assert api.data("Me", token=user.token)["me"]["usage"]["reservedBytes"] == 0
    state = json.loads((one / NAME).read_text())
    assert sorted(state["files"]) == ["good.txt"]
    assert state["uploads"] == {}
    assert sorted(state["refused"]) == ["back\\slash.txt", "tool.exe"]
    assert tree(one)["tool.exe"] == b"MZ" + bytes(100)

    again = cli_sync(live_url, user, one)

    assert again.returncode == 1
    assert "tool.exe: skipped, refused by the server before" in again.stdout
    assert sorted(documents(api, user)) == ["/good.txt"]


def test_an_unreadable_file_is_said_and_not_deleted_anywhere(
    api: Api, user: User, live_url: str, tmp_path: Path
) -> None:
    one = Path(tempfile.mkdtemp(prefix="docstore-sync-"))
    try:
        (one / "open.txt").write_bytes(text(100, "open "))
        (one / "secret.txt").write_bytes(text(100, "secret "))
        assert cli_sync(live_url, user, one).returncode == 0
        assert sorted(documents(api, user)) == ["/open.txt", "/secret.txt"]
        (one / "secret.txt").write_bytes(text(120, "secret, edited "))
        os.chmod(one / "secret.txt", 0)

        result = as_nobody(live_url, user, one)

        assert result.returncode == 1
        assert result.stderr.splitlines() == ["docstore: secret.txt: left alone, cannot read it: Permission denied."]
        assert sorted(documents(api, user)) == ["/open.txt", "/secret.txt"]
        assert (one / "secret.txt").stat().st_size == 120
    finally:
        shutil.rmtree(one)


def as_nobody(url: str, user: User, root: Path) -> subprocess.CompletedProcess[str]:
    """``docstore sync`` run by someone who cannot read a file of mode 0 (root can: so as nobody)."""
    if os.geteuid() != 0:
        return cli_sync(url, user, root)
    for folder, _, names in os.walk(root):
        os.chown(folder, 65534, 65534)
        for name in names:
            os.chown(Path(folder, name), 65534, 65534)
    env = clean_env(DOCSTORE_TOKEN=user.token, HOME=str(root), PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "cli", "sync", str(root), "--api", f"{url}/graphql", "--wait", "60"]
    return subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


class KillingProxy:
    """An HTTP proxy in front of the API that passes every request on, and when one asks for an
    upload (``marker`` in its body) lets the server answer, then kills the client with SIGKILL
    before the answer reaches it: a run stopped in the instant between the server starting an
    upload and the client writing its id down."""

    def __init__(self, upstream: str, marker: bytes) -> None:
        self.upstream = upstream
        self.marker = marker
        self.client: subprocess.Popen[str] | None = None
        self.answered: list[dict[str, Any]] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                headers = {name: self.headers[name] for name in ("content-type", "authorization") if self.headers[name]}
                answer = plain_http.post(f"{proxy.upstream}{self.path}", content=body, headers=headers, timeout=60)
                if proxy.marker in body and proxy.client is not None:
                    proxy.answered.append(answer.json())
                    proxy.client.kill()
                    proxy.client.wait()
                    return
                self.send_response(answer.status_code)
                self.send_header("content-type", answer.headers["content-type"])
                self.send_header("content-length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def run(self, user: User, root: Path, *args: str) -> int:
        """``docstore sync DIR`` through the proxy until it ends or is killed: its return code."""
        env = clean_env(DOCSTORE_TOKEN=user.token, HOME=str(root.parent), PYTHONPATH=str(ROOT))
        self.client = subprocess.Popen(
            [sys.executable, "-m", "cli", "sync", str(root), "--api", f"{self.url}/graphql", "--wait", "60", *args],
            cwd=root.parent,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        return self.client.wait(timeout=300)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def folder_with_a_big_file(tmp_path: Path, *, seed: int) -> tuple[Path, bytes]:
    """A folder to sync holding ``big.gz``, two parts and a bit (the small parts of these tests)."""
    one = tmp_path / "one"
    one.mkdir()
    data = gzip_like(2 * PART + 1000, seed=seed)
    (one / "big.gz").write_bytes(data)
    return one, data


def killed_as_answered(url: str, user: User, folder: Path, marker: bytes, *args: str) -> dict[str, Any]:
    """``docstore sync`` of ``folder`` killed (-9) as the API answers the request holding
    ``marker``, through :class:`KillingProxy`; the one field of that answer."""
    proxy = KillingProxy(url, marker)
    try:
        killed = proxy.run(user, folder, *args)
    finally:
        proxy.close()
    assert killed == -9
    ((answered,),) = [list(answer["data"].values()) for answer in proxy.answered]
    return answered


@pytest.mark.parametrize(
    ("marker", "args"),
    [(b"requestMultipartUpload(", ("--multipart-threshold", "1")), (b"requestUpload(", ())],
    ids=["multipart", "single POST"],
)
def test_a_run_killed_as_the_server_starts_its_upload_leaves_no_upload_behind_and_the_next_finishes(
    parts_api: Api, user: User, small_parts: Any, tmp_path: Path, marker: bytes, args: tuple[str, ...]
) -> None:
    one, data = folder_with_a_big_file(tmp_path, seed=3)

    started = killed_as_answered(small_parts.url, user, one, marker, *args)

    state = json.loads((one / NAME).read_text()) if (one / NAME).exists() else {"uploads": {}}
    assert state["uploads"] == {}  # the client never heard of the upload the server started
    pending = {"filter": {"status": "PENDING_UPLOAD"}}
    held = parts_api.data("Documents", pending, token=user.token)["documents"]["edges"]
    assert [(edge["node"]["id"], edge["node"]["path"]) for edge in held] == [(started["documentId"], "/big.gz")]

    again = cli_sync(small_parts.url, user, one, *args)

    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.splitlines()[:2] == [
        "big.gz: cancelled the upload a stopped run had started",
        "big.gz: uploaded",
    ]
    assert tree(one) == {"big.gz": data}
    assert parts_api.data("Documents", pending, token=user.token)["documents"]["edges"] == []
    (document,) = documents(parts_api, user).values()
    assert document["path"] == "/big.gz"
    assert parts_api.settled(user, document["id"])["status"] == "READY"
    assert parts_api.usage(user) | {"limitBytes": 0} == {
        "usedBytes": len(data),
        "reservedBytes": 0,
        "limitBytes": 0,
        "documentCount": 1,
    }


@pytest.mark.parametrize(
    ("marker", "args", "threshold"),
    [
        (b"completeMultipartUpload(", ("--multipart-threshold", "1"), MIB),
        (b"completeUpload(", (), 64 * MIB),
    ],
    ids=["multipart", "single POST"],
)
def test_a_run_killed_as_the_server_completes_its_upload_is_recorded_by_the_next_without_sending_it_again(
    parts_api: Api, user: User, small_parts: Any, tmp_path: Path, marker: bytes, args: tuple[str, ...], threshold: int
) -> None:
    one, data = folder_with_a_big_file(tmp_path, seed=6)

    completed = killed_as_answered(small_parts.url, user, one, marker, *args)

    assert (completed["__typename"], completed["path"], completed["version"]) == ("Document", "/big.gz", 1)
    state = json.loads((one / NAME).read_text())
    assert state["uploads"]["big.gz"]["id"] == completed["id"]  # the client never heard it was completed
    assert state["files"] == {}

    again = watched_sync(small_parts.url, user, one, multipart_threshold=threshold)

    assert again.said == ["big.gz: its upload was completed before the last run stopped; recorded"]
    assert (again.report.uploaded, again.report.deleted_there, again.report.problems) == ([], [], [])
    assert again.s3 == []  # not a byte sent again
    assert not {"RequestUpload", "RequestMultipartUpload", "SignUploadParts", "DeleteDocument"} & set(again.called)
    after = json.loads((one / NAME).read_text())
    stat = (one / "big.gz").stat()
    assert after["uploads"] == {}
    assert after["files"] == {
        "big.gz": {
            "id": completed["id"],
            "version": 1,
            "hash": content_hash.of_bytes(data),
            "size": len(data),
            "mtime": stat.st_mtime_ns,
        }
    }
    assert tree(one) == {"big.gz": data}
    assert parts_api.settled(user, completed["id"])["status"] == "READY"
    assert feed(parts_api, user) == [(1, "CREATED", completed["id"], "/big.gz")]  # never DELETED, never again
    assert parts_api.usage(user) | {"limitBytes": 0} == {
        "usedBytes": len(data),
        "reservedBytes": 0,
        "limitBytes": 0,
        "documentCount": 1,
    }


class LosingAnswers(Recording):
    """The client's API, on which the answers to operation ``lost`` never arrive: the server does
    what was asked, and the client hears of a network failure."""

    def __init__(self, url: str, token: str | None, lost: str) -> None:
        super().__init__(url, token)
        self.lost = lost

    def call(self, name: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        answer = super().call(name, variables)
        if name == self.lost:
            raise ClientError("The call failed: the connection was reset")
        return answer


def test_a_completion_whose_answer_is_lost_is_not_cancelled_and_the_next_run_records_it(
    api: Api, user: User, live_url: str, tmp_path: Path
) -> None:
    one = tmp_path / "one"
    one.mkdir()
    data = text(3000, "a file sent once ")
    (one / "a.txt").write_bytes(data)

    lost = watched_sync(live_url, user, one, LosingAnswers(f"{live_url}/graphql", user.token, "SyncCompleteUpload"))

    assert lost.report.problems == ["a.txt: The call failed: the connection was reset"]
    assert "DeleteDocument" not in lost.called
    assert lost.s3 == ["POST"]
    held = documents(api, user)
    assert sorted(held) == ["/a.txt"]
    pending = json.loads((one / NAME).read_text())["uploads"]
    assert pending["a.txt"]["id"] == held["/a.txt"]["id"]

    again = watched_sync(live_url, user, one)

    assert again.said == ["a.txt: its upload was completed before the last run stopped; recorded"]
    assert again.s3 == []
    assert not {"RequestUpload", "DeleteDocument"} & set(again.called)
    state = json.loads((one / NAME).read_text())
    assert (state["uploads"], state["files"]["a.txt"]["id"]) == ({}, held["/a.txt"]["id"])
    assert feed(api, user) == [(1, "CREATED", held["/a.txt"]["id"], "/a.txt")]


class Killed(BaseException):
    """A run stopped dead, as by SIGKILL: it does nothing more, and saves nothing more."""


class StoppedAt(sync.Sync):
    """A run of ``docstore sync`` stopped dead as soon as its method ``step`` has acted (or just
    as it is called, ``before``): its state file stays as it last saved it."""

    def __init__(self, api: ClientApi, root: Path, step: str, *, before: bool = False) -> None:
        super().__init__(api, root, sync.Options(wait_seconds=60), say=lambda _: None)
        self.stopped = False
        original = getattr(self, step)

        def stop(*args: Any) -> str:
            if not before:
                done: str = original(*args)
                if done != "acted":
                    return done
            self.stopped = True
            raise Killed

        setattr(self, step, stop)

    def _save(self) -> None:
        if not self.stopped:
            super()._save()


def stopped_sync(url: str, user: User, root: Path, step: str, *, before: bool = False) -> None:
    with ClientApi(f"{url}/graphql", user.token) as api, pytest.raises(Killed):
        StoppedAt(api, root, step, before=before).run()


def test_a_download_the_stopped_run_did_not_write_down_is_recorded_next_not_fetched_again(
    api: Api, user: User, live_url: str, tmp_path: Path
) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    (one / "a.txt").write_bytes(text(300, "first "))
    run_sync(live_url, user, one)
    run_sync(live_url, user, two)
    (one / "a.txt").write_bytes(text(400, "second "))
    run_sync(live_url, user, one)
    api.settled(user, documents(api, user)["/a.txt"]["id"])
    saved = (two / NAME).read_text()

    stopped_sync(live_url, user, two, "_download")

    assert tree(two) == {"a.txt": text(400, "second ")}  # renamed into place
    assert (two / NAME).read_text() == saved  # and not written down

    again = watched_sync(live_url, user, two)

    assert again.report == sync.Report()  # nothing downloaded again, nothing taken for a conflict
    assert again.s3 == []
    assert not {"RequestUpload", "RequestMultipartUpload", "DeleteDocument"} & set(again.called)
    held = documents(api, user)["/a.txt"]
    stat = (two / "a.txt").stat()
    assert json.loads((two / NAME).read_text())["files"] == {
        "a.txt": {
            "id": held["id"],
            "version": 2,
            "hash": content_hash.of_bytes(text(400, "second ")),
            "size": 400,
            "mtime": stat.st_mtime_ns,
        }
    }
    assert tree(two) == {"a.txt": text(400, "second ")}


@pytest.mark.parametrize("before", [True, False], ids=["after its rename", "after its download"])
def test_a_conflict_the_stopped_run_did_not_write_down_is_finished_next_without_a_second_copy(
    api: Api, user: User, live_url: str, tmp_path: Path, before: bool
) -> None:
    _, two = edited_on_both_sides(live_url, user, tmp_path)
    api.settled(user, documents(api, user)["/plan.txt"]["id"])  # its bytes can be downloaded at the conflict
    saved = (two / NAME).read_text()
    copy = f"plan (conflicted copy {TODAY}).txt"

    # The conflict renames two's file to its copy, then downloads one's: stopped after either.
    stopped_sync(live_url, user, two, "_download", before=before)

    if before:
        assert tree(two) == {copy: text(320, "two's plan ")}
    else:
        assert tree(two) == {"plan.txt": text(310, "one's plan "), copy: text(320, "two's plan ")}
    assert (two / NAME).read_text() == saved

    again = watched_sync(live_url, user, two)

    assert again.report.conflicts == []  # the conflict was kept once, by the stopped run
    assert again.report.downloaded == (["plan.txt"] if before else [])
    assert again.report.uploaded == [copy]
    assert (again.report.deleted_here, again.report.deleted_there, again.report.problems) == ([], [], [])
    assert tree(two) == {"plan.txt": text(310, "one's plan "), copy: text(320, "two's plan ")}
    held = documents(api, user)
    assert sorted(held) == ["/" + copy, "/plan.txt"]
    assert held["/plan.txt"]["version"] == 2
    state = json.loads((two / NAME).read_text())
    assert (sorted(state["files"]), state["uploads"]) == ([copy, "plan.txt"], {})


def test_the_temporary_files_a_killed_run_left_are_deleted_by_the_next_and_never_synced(
    api: Api, user: User, live_url: str, tmp_path: Path
) -> None:
    one = tmp_path / "one"
    one.mkdir()
    (one / "a.txt").write_bytes(text(300, "a "))
    # What SIGKILL leaves in the middle of a download and of writing the state (mkstemp's names).
    leftovers = [one / (sync_state.DOWNLOADING + "k1x_q9z0"), one / (sync_state.WRITING + "p0w8e3ab")]
    for leftover in leftovers:
        leftover.write_bytes(b"half of something")

    report, _ = run_sync(live_url, user, one)

    assert (report.uploaded, report.problems) == (["a.txt"], [])
    assert [leftover.exists() for leftover in leftovers] == [False, False]
    assert sorted(path.name for path in one.iterdir()) == sorted([NAME, NAME + ".lock", "a.txt"])
    assert sorted(documents(api, user)) == ["/a.txt"]
