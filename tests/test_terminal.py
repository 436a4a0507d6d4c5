"""The terminal client (client/): ``docstore login``, ``logout``, ``upload``, ``ls``, ``search``, ``hash``,
run as a person runs them (subprocesses, their own config folder) against the session's real
server, with real files; only the public API is between them."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from client import uploads
from client.api import Api as ClientApi
from client.api import ClientError
from tests import plain_http
from tests.client import PASSWORD, Api, User, sample
from tests.domain.test_content_hash import EMPTY, independent
from tests.serving import ROOT, clean_env

GIB = 1024**3


class Terminal:
    """One person's terminal: a home and config folder of its own, commands run in ``cwd``."""

    def __init__(self, home: Path, live_url: str) -> None:
        self.home = home
        self.api = f"{live_url}/graphql"
        self.env = clean_env(HOME=str(home), XDG_CONFIG_HOME=str(home / "config"))
        home.mkdir(parents=True, exist_ok=True)

    @property
    def credentials(self) -> Path:
        return self.home / "config" / "docstore" / "credentials.json"

    def run(self, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cli", *args],
            cwd=self.home,
            env={**self.env, **env, "PYTHONPATH": str(ROOT)},
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def login(self, user: User, password: str = PASSWORD) -> subprocess.CompletedProcess[str]:
        return self.run("login", "--api", self.api, "--email", user.email, "--password-stdin", stdin=f"{password}\n")

    def listed(self, *args: str) -> list[dict[str, Any]]:
        result = self.run("ls", "--json", *args)
        assert result.returncode == 0, result.stderr
        return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.fixture
def terminal(tmp_path: Path, live_url: str) -> Terminal:
    return Terminal(tmp_path / "me", live_url)


@pytest.fixture
def signed_in(terminal: Terminal, user: User) -> Terminal:
    result = terminal.login(user)
    assert result.returncode == 0, result.stderr
    return terminal


def write(folder: Path, name: str, content: bytes) -> Path:
    path = folder / name
    path.write_bytes(content)
    return path


def test_login_keeps_the_token_in_a_file_only_its_owner_reads(terminal: Terminal, api: Api, user: User) -> None:
    result = terminal.login(user)

    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        f"Signed in to {terminal.api} as {user.email} (FREE); the session is kept in {terminal.credentials}.\n"
    )
    assert stat.S_IMODE(terminal.credentials.stat().st_mode) == 0o600
    assert stat.S_IMODE(terminal.credentials.parent.stat().st_mode) == 0o700
    saved = json.loads(terminal.credentials.read_text())
    assert saved.keys() == {"api", "email", "token"}
    assert (saved["api"], saved["email"]) == (terminal.api, user.email)
    assert api.data("Me", token=saved["token"])["me"]["id"] == user.id


def test_login_with_a_wrong_password_leaves_no_token_file(terminal: Terminal, user: User) -> None:
    result = terminal.login(user, password="not the password")

    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "docstore: The email or the password is wrong.\n"
    assert not terminal.credentials.exists()
    assert not (terminal.home / "config").exists()


def test_a_failed_login_keeps_the_session_there_was(signed_in: Terminal, other_user: User) -> None:
    before = signed_in.credentials.read_bytes()

    result = signed_in.login(other_user, password="not the password")

    assert result.returncode == 1
    assert signed_in.credentials.read_bytes() == before
    assert sorted(path.name for path in signed_in.credentials.parent.iterdir()) == ["credentials.json"]


def test_upload_two_files_with_tags_then_ls_shows_exactly_them(signed_in: Terminal, api: Api, user: User) -> None:
    pdf = write(signed_in.home, "report.pdf", sample("application/pdf", "quarterly report"))
    notes = write(signed_in.home, "notes.txt", b"hello world\n")
    size = pdf.stat().st_size
    assert size < 1024  # so that both sizes show in bytes

    result = signed_in.run("upload", str(pdf), str(notes), "--tags", "work, 2026", "--wait")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    ids = [line.split()[1] for line in lines[:2]]
    assert lines[:2] == [
        f"report.pdf: {ids[0]} PROCESSING ({size} B)",
        f"notes.txt: {ids[1]} PROCESSING (12 B)",
    ]
    # Each READY is printed as its event arrives: the text file may well be processed first.
    assert sorted(lines[2:]) == [f"notes.txt: {ids[1]} READY", f"report.pdf: {ids[0]} READY"]
    listed = signed_in.listed()
    assert [
        (item["id"], item["name"], item["contentType"], item["size"], item["status"], item["tags"]) for item in listed
    ] == [
        (ids[1], "notes.txt", "text/plain", 12, "READY", ["work", "2026"]),
        (ids[0], "report.pdf", "application/pdf", pdf.stat().st_size, "READY", ["work", "2026"]),
    ]
    table = signed_in.run("ls").stdout.splitlines()
    assert [line.split() for line in table] == [
        ["NAME", "PATH", "STATUS", "SIZE", "TAGS", "CREATED", "ID"],
        ["notes.txt", "/notes.txt", "READY", "12", "B", "work,2026", *listed[0]["createdAt"][:16].split("T"), ids[1]],
        [
            "report.pdf",
            "/report.pdf",
            "READY",
            str(size),
            "B",
            "work,2026",
            *listed[1]["createdAt"][:16].split("T"),
            ids[0],
        ],
    ]
    assert api.usage(user) == {
        "usedBytes": 12 + pdf.stat().st_size,
        "reservedBytes": 0,
        "limitBytes": 5 * GIB,
        "documentCount": 2,
    }


def test_upload_wait_says_why_a_document_was_rejected_and_exits_1(signed_in: Terminal, api: Api, user: User) -> None:
    fake = write(signed_in.home, "fake.pdf", b"\x7fELF\x02\x01\x01" + bytes(200))  # a program, named a PDF

    result = signed_in.run("upload", str(fake), "--wait")

    assert result.returncode == 1, result.stderr
    (document_id,) = {line.split()[1] for line in result.stdout.splitlines()}
    assert result.stdout.splitlines() == [
        f"fake.pdf: {document_id} PROCESSING (207 B)",
        f"fake.pdf: {document_id} REJECTED (WRONG_TYPE)",
    ]
    assert api.usage(user) == {"usedBytes": 0, "reservedBytes": 0, "limitBytes": 5 * GIB, "documentCount": 0}


def test_ls_filters_and_pages_through_cursors(signed_in: Terminal) -> None:
    for name, tags in [("a.txt", "x"), ("b.txt", "x,y"), ("c.md", "y")]:
        result = signed_in.run("upload", str(write(signed_in.home, name, name.encode())), "--tags", tags)
        assert result.returncode == 0, result.stderr

    assert [item["name"] for item in signed_in.listed("--tag", "x")] == ["b.txt", "a.txt"]
    assert [item["name"] for item in signed_in.listed("--tag", "x", "--tag", "y")] == ["b.txt"]
    assert [item["name"] for item in signed_in.listed("--name", "C.M")] == ["c.md"]
    assert [item["name"] for item in signed_in.listed("--type", "text/markdown")] == ["c.md"]
    first = signed_in.run("ls", "--json", "--limit", "2")
    assert [json.loads(line)["name"] for line in first.stdout.splitlines()] == ["c.md", "b.txt"]
    assert first.stderr.startswith("More: add --after ")
    cursor = first.stderr.split()[-1]
    assert [item["name"] for item in signed_in.listed("--after", cursor)] == ["a.txt"]


def test_search_finds_a_word_inside_a_document(terminal: Terminal, api: Api) -> None:
    user = api.sign_up(plan="PREMIUM")
    assert terminal.login(user).returncode == 0
    invoice = write(terminal.home, "invoice.txt", b"The plumber fixed the sink; total 120 euros.\n")
    other = write(terminal.home, "letter.txt", b"Dear neighbour, thank you for the flowers.\n")
    assert terminal.run("upload", str(invoice), str(other), "--wait").returncode == 0
    (invoice_id,) = [item["id"] for item in terminal.listed("--name", "invoice")]

    result = terminal.run("search", "plumber")

    assert result.returncode == 0, result.stderr
    assert (
        result.stdout == f"invoice.txt  READY  {invoice_id}\n    content: The plumber fixed the sink; total 120 euros\n"
    )
    assert [
        hit["document"]["id"]
        for hit in map(json.loads, terminal.run("search", "plumber", "--json").stdout.split("\n")[:-1])
    ] == [invoice_id]


def test_search_says_why_it_refuses(signed_in: Terminal) -> None:
    result = signed_in.run("search", "content:plumber")

    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith("docstore: Searching the contents of documents needs the PREMIUM plan")


def test_upload_over_quota_fails_with_the_sentence_and_leaves_usage_unchanged(
    signed_in: Terminal, api: Api, user: User
) -> None:
    # Given 4 GiB reserved by an upload in progress, a 2 GiB file does not fit in FREE's 5 GiB.
    held = api.request_upload(user, size=4 * GIB)
    large = signed_in.home / "large.bin"
    subprocess.run(["truncate", "-s", "2G", str(large)], check=True)  # sparse: nothing is written
    before = api.usage(user)

    result = signed_in.run("upload", str(large), "--type", "application/zip")

    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"docstore: large.bin: Uploading {2 * GIB} bytes would pass the plan's limit of {5 * GIB} bytes "
        f"(0 used, {4 * GIB} reserved by uploads in progress).\n"
    )
    assert api.usage(user) == before == {**before, "usedBytes": 0, "reservedBytes": 4 * GIB, "documentCount": 0}
    assert [item["id"] for item in signed_in.listed("--status", "PENDING_UPLOAD")] == [held["documentId"]]


def test_a_second_account_does_not_see_the_first_ones_documents(
    signed_in: Terminal, other_user: User, tmp_path: Path, live_url: str
) -> None:
    notes = write(signed_in.home, "private.txt", b"mine alone\n")
    assert signed_in.run("upload", str(notes), "--wait").returncode == 0
    (mine,) = signed_in.listed()
    other = Terminal(tmp_path / "other", live_url)
    assert other.login(other_user).returncode == 0

    result = other.run("ls")

    assert (result.returncode, result.stdout, result.stderr) == (0, "", "No documents.\n")
    assert other.listed() == []
    assert other.run("search", "private").stderr == "Nothing found.\n"
    assert signed_in.listed() == [mine]


def test_commands_without_a_session_say_to_run_docstore_login(terminal: Terminal) -> None:
    for command in (["ls"], ["search", "x"], ["upload", __file__]):
        result = terminal.run(*command)

        assert (result.returncode, result.stdout) == (1, "")
        assert result.stderr == "docstore: Not signed in: run `docstore login`.\n"


def test_docstore_token_overrides_the_saved_session(terminal: Terminal, api: Api, user: User, other_user: User) -> None:
    assert terminal.login(user).returncode == 0
    mine = write(terminal.home, "mine.txt", b"mine\n")
    assert terminal.run("upload", str(mine)).returncode == 0

    theirs = terminal.run("ls", "--json", DOCSTORE_TOKEN=other_user.token)
    refused = terminal.run("ls", DOCSTORE_TOKEN="dst_us-west-2.not-a-token")

    assert (theirs.returncode, theirs.stdout) == (0, "")
    assert (refused.returncode, refused.stdout) == (1, "")
    assert (
        refused.stderr == "docstore: The token in DOCSTORE_TOKEN is not valid (any more): unset it or get a new one.\n"
    )
    assert [item["name"] for item in terminal.listed()] == ["mine.txt"]


def test_logout_ends_the_session_and_forgets_it(signed_in: Terminal, api: Api) -> None:
    token = json.loads(signed_in.credentials.read_text())["token"]

    result = signed_in.run("logout")
    again = signed_in.run("logout")

    assert (result.returncode, result.stdout) == (0, f"Signed out of {signed_in.api}.\n")
    assert (again.returncode, again.stdout) == (0, "Not signed in.\n")
    assert not signed_in.credentials.exists()
    refused = api.call("Me", token=token)
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_a_file_s3_refuses_is_cancelled_and_releases_its_reservation(
    tmp_path: Path, live_url: str, api: Api, user: User
) -> None:
    # S3 is the process boundary faked here: it answers the POST as it does an expired form.
    def refuse(request: httpx.Request) -> httpx.Response:
        request.read()
        return httpx.Response(403, text="<Error><Code>AccessDenied</Code><Message>Policy expired.</Message></Error>")

    path = write(tmp_path, "notes.txt", b"hello world\n")
    with (
        ClientApi(f"{live_url}/graphql", user.token) as client,
        plain_http.Client(transport=httpx.MockTransport(refuse)) as s3,
        pytest.raises(ClientError) as refused,
    ):
        uploads.upload(client, path, tags=["t"], s3=s3)

    assert str(refused.value) == "notes.txt: S3 refused the file: AccessDenied: Policy expired."
    assert api.usage(user) == {"usedBytes": 0, "reservedBytes": 0, "limitBytes": 5 * GIB, "documentCount": 0}
    pending = api.data("Documents", {"filter": {"status": "PENDING_UPLOAD"}}, user.token)["documents"]["edges"]
    assert pending == []


def test_a_file_that_cannot_be_read_is_refused_before_anything_is_reserved(
    signed_in: Terminal, api: Api, user: User
) -> None:
    empty = write(signed_in.home, "empty.txt", b"")

    missing = signed_in.run("upload", "missing.txt")
    nothing = signed_in.run("upload", str(empty))

    assert (missing.returncode, missing.stderr) == (1, "docstore: No such file: missing.txt. Nothing was uploaded.\n")
    assert (nothing.returncode, nothing.stderr) == (
        1,
        f"docstore: {empty} is empty: DocStore keeps files of at least 1 byte.\n",
    )
    assert api.usage(user)["reservedBytes"] == 0
    assert signed_in.listed("--status", "PENDING_UPLOAD") == []


def test_credentials_follow_xdg_config_home_else_home(tmp_path: Path) -> None:
    from client import credentials

    assert credentials.path({"XDG_CONFIG_HOME": "/x/conf", "HOME": "/h"}) == Path("/x/conf/docstore/credentials.json")
    assert credentials.path({"HOME": "/h"}) == Path("/h/.config/docstore/credentials.json")


# --- docstore hash: no API, no sign-in -------------------------------------------------------


@pytest.fixture
def offline(tmp_path: Path) -> Terminal:
    """A terminal with no API behind it (``hash`` needs none)."""
    return Terminal(tmp_path / "offline", "http://127.0.0.1:9")


def test_hash_prints_what_the_api_gives_as_content_hash(offline: Terminal) -> None:
    big = write(offline.home, "big.bin", os.urandom(9 * 1024 * 1024 + 3))  # three blocks
    write(offline.home, "empty", b"")

    result = offline.run("hash", str(big), "empty")

    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == f"{independent(big.read_bytes())}  {big}\n{EMPTY}  empty\n"


def test_hash_of_a_file_is_the_content_hash_the_server_gives_the_same_file(
    terminal: Terminal, api: Api, user: User
) -> None:
    """The same file, hashed here and uploaded there: equal, with no independent implementation
    between them (a gzip-like file of two 4 MiB blocks, the second shorter, that no worker extracts)."""
    content = b"\x1f\x8b" + os.urandom(5 * 1024 * 1024)
    file = write(terminal.home, "archive.gz", content)
    document = api.upload(user, content, filename="archive.gz", contentType="application/gzip")
    assert document["status"] == "READY"

    result = terminal.run("hash", "archive.gz")

    server = api.data("Document", {"id": document["id"]}, user.token)["document"]["contentHash"]
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == f"{server}  archive.gz\n"
    assert file.read_bytes() == content


def test_hash_reads_standard_input_for_a_dash(offline: Terminal) -> None:
    result = offline.run("hash", "-", stdin="hello\n")

    assert (result.returncode, result.stdout, result.stderr) == (0, independent(b"hello\n") + "  -\n", "")


def test_hash_says_which_files_it_cannot_read_and_exits_1(offline: Terminal) -> None:
    good = write(offline.home, "good.txt", b"good\n")
    (offline.home / "folder").mkdir()

    result = offline.run("hash", "missing.pdf", "folder", str(good))

    assert result.returncode == 1
    assert result.stdout == f"{independent(good.read_bytes())}  {good}\n"  # the readable one is still hashed
    assert result.stderr == (
        "docstore: cannot read missing.pdf: No such file or directory.\ndocstore: cannot read folder: Is a directory.\n"
    )
