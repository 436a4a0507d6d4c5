"""The README's examples, run as a person runs them: every shell block pasted, in order, into one
terminal (one bash, its variables kept from block to block, in a folder of its own with the
project's `.venv`), and every GraphQL block sent as GraphiQL sends it, with the token the shell
got; the whole README twice in a row, against the session's live server.

Which blocks run, and what they need, the README says in an HTML comment above each block:
``<!-- test: NAME [background] [fresh-id] -->``, or ``<!-- not tested: why -->``. Every ``sh`` and
``graphql`` block carries one. What each block must answer is ``EXPECT[NAME]`` below. The one
change made to a block: the README's ``127.0.0.1:8000`` is the live server's address (and
``DOCSTORE_API``, which the person's ``docstore`` would default to, names it).
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from settings import Settings
from tests.client import Api, User, post_form
from tests.domain.test_content_hash import independent
from tests.serving import ROOT, clean_env

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from adapters.ratelimits import AuthLimits
    from tests.conftest import LiveServer

README = ROOT / "README.md"
EMAIL = "me@example.com"
#: A marker comment, then the fenced block it marks (at the same indent, inside a list or not).
MARKED = re.compile(
    r"^(?P<indent>[ ]*)<!-- (?P<kind>test|not tested): (?P<what>[^\n]*?) -->\n"
    r"(?P=indent)```(?P<lang>\w+)\n(?P<body>.*?)\n(?P=indent)```$",
    re.MULTILINE | re.DOTALL,
)
FENCE = re.compile(r"^[ ]*```(sh|graphql)$", re.MULTILINE)


@dataclass
class Block:
    name: str
    lang: str
    options: set[str]
    body: str


def readme_blocks() -> list[Block]:
    text = README.read_text()
    blocks, marked = [], 0
    for match in MARKED.finditer(text):
        marked += match["lang"] in ("sh", "graphql")
        if match["kind"] == "test":
            name, *options = match["what"].split()
            indent = len(match["indent"])  # a block inside a list item: as a person copies it
            body = "\n".join(line[indent:] for line in match["body"].split("\n"))
            blocks.append(Block(name, match["lang"], set(options), body + "\n"))
    assert marked == len(FENCE.findall(text)), "every sh and graphql block in README.md needs a test marker"
    return blocks


class Terminal:
    """One bash, fed block after block like a person pasting into a terminal. Each block's
    output goes to files, and its exit status to a file the test waits for."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder = folder
        self.count = 0
        self.background: set[int] = set()
        self.bash = subprocess.Popen(
            ["bash", "--norc", "--noprofile"],
            cwd=folder,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )

    def send(self, script: str, *, background: bool = False) -> int:
        """Start ``script``; its number (its output is in ``out.N`` and ``err.N``)."""
        self.count += 1
        number = self.count
        assert self.bash.stdin is not None
        if background:
            self.background.add(number)
            self.bash.stdin.write(f"{{\n{script}}} </dev/null >out.{number} 2>err.{number} &\nPIDS[{number}]=$!\n")
        else:
            self.bash.stdin.write(f"{{\n{script}}} </dev/null >out.{number} 2>err.{number}\necho $? >status.{number}\n")
        self.bash.stdin.flush()
        return number

    def finish(self, number: int, timeout: float = 120) -> tuple[int, str, str]:
        """Wait for block ``number`` (a background one: ``wait`` for it): status, stdout, stderr."""
        status = self.folder / f"status.{number}"
        if number in self.background:
            self.background.discard(number)
            assert self.bash.stdin is not None
            self.bash.stdin.write(f"wait ${{PIDS[{number}]}}; echo $? >status.{number}\n")
            self.bash.stdin.flush()
        deadline = time.monotonic() + timeout
        while not status.exists() or not status.read_text().endswith("\n"):
            assert time.monotonic() < deadline, f"README block {number} still running after {timeout} s"
            assert self.bash.poll() is None, "the shell ended"
            time.sleep(0.05)
        return int(status.read_text()), self.output(number), (self.folder / f"err.{number}").read_text()

    def output(self, number: int) -> str:
        path = self.folder / f"out.{number}"
        return path.read_text() if path.exists() else ""

    def run(self, script: str) -> tuple[int, str, str]:
        return self.finish(self.send(script))

    def variable(self, name: str) -> str:
        status, out, _ = self.run(f'printf %s "${name}"\n')
        assert status == 0
        return out

    def close(self) -> None:
        assert self.bash.stdin is not None
        self.bash.stdin.close()
        self.bash.wait(timeout=30)


def answers(text: str) -> list[Any]:
    """Every JSON value printed in ``text``, one after another."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while (at := _skip(text, at)) < len(text):
        value, at = decoder.raw_decode(text, at)
        found.append(value)
    return found


def _skip(text: str, at: int) -> int:
    while at < len(text) and text[at].isspace():
        at += 1
    return at


@dataclass
class Run:
    """What one block did, and what the test knows of the session at that moment."""

    round: int
    status: int
    stdout: str
    stderr: str
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def data(self) -> Any:
        (answer,) = answers(self.stdout)
        assert "errors" not in answer, answer
        return answer["data"]


def _terminal_login(run: Run) -> None:
    taken = "AuthPayload" if run.round == 1 else "EmailTakenError"
    plan = "FREE" if run.round == 1 else "PREMIUM"  # step 6 moved to PREMIUM
    assert run.stdout == (
        f'{{"data":{{"signUp":{{"__typename":"{taken}"}}}}}}\n'
        f"Signed in to {run.state['api']} as {EMAIL} ({plan}); the session is kept in "
        f"{run.state['home']}/.config/docstore/credentials.json.\n"
    )


def _terminal_use(run: Run) -> None:
    lines = run.stdout.splitlines()
    new = lines[0].split()[1]
    assert lines[:2] == [f"notes.txt: {new} PROCESSING (12 B)", f"notes.txt: {new} READY"]
    # Each round's own upload here, and the previous round's one in step 8.
    count = 1 if run.round == 1 else 3
    assert lines[2].split() == ["NAME", "PATH", "STATUS", "SIZE", "TAGS", "CREATED", "ID"]
    rows = [line.split() for line in lines[3 : 3 + count]]
    assert [row[:1] + row[row.index("READY") : row.index("READY") + 4] for row in rows] == [
        ["notes.txt", "READY", "12", "B", "demo"]
    ] * count
    # Each upload of notes.txt is numbered past the paths taken: the shell's own moved away in step 7.
    paths = {" ".join(row[1 : row.index("READY")]) for row in rows}
    assert paths == ({"/notes.txt"} if run.round == 1 else {"/notes.txt", "/notes (1).txt", "/notes (2).txt"})
    assert rows[0][-1] == new
    found = lines[3 + count :]
    assert sorted(found[::2]) == sorted(f"notes.txt  READY  {row[-1]}" for row in rows)  # ranked, not by date
    assert found[1::2] == ["    name: notes.txt"] * count


def _terminal_hash(run: Run) -> None:
    assert (run.status, run.stdout, run.stderr) == (0, independent(b"hello world\n") + "  notes.txt\n", "")


def _signup_graphql(run: Run) -> None:
    assert run.data["signUp"] == {
        "__typename": "EmailTakenError",
        "message": f"An account with the email {EMAIL} already exists.",
    }
    assert run.data["signIn"]["__typename"] == "AuthPayload"
    assert run.data["signIn"]["token"].startswith("dst_us-west-2.")


def _signup_shell(run: Run) -> None:
    assert run.data == {"me": {"email": EMAIL, "plan": "FREE" if run.round == 1 else "PREMIUM"}}
    assert run.state["token"].startswith("dst_us-west-2.")


def _request_upload(run: Run) -> None:
    assert run.stdout == ""
    form = json.loads((run.state["folder"] / "form.json").read_text())["data"]["requestUpload"]
    assert form["__typename"] == "UploadForm"
    assert {item["name"] for item in form["fields"]} >= {"key", "policy"}
    run.state["form_id"] = form["documentId"]


def _post_to_s3(run: Run) -> None:
    assert run.stdout == f"posted, document {run.state['form_id']}\n"
    assert run.state["id"] == run.state["form_id"]


def _complete_graphql(run: Run) -> None:
    document = run.data["completeUpload"]
    assert {key: document[key] for key in ("__typename", "id", "status", "size")} == {
        "__typename": "Document",
        "id": run.state["id"],
        "status": "PROCESSING",
        "size": 12,
    }


def _complete_shell(run: Run) -> None:
    completed, final = answers(run.stdout)
    assert completed["data"]["completeUpload"]["id"] == run.state["id"]
    assert completed["data"]["completeUpload"]["status"] in ("PROCESSING", "READY")  # completed again: as it is
    assert final == {"data": {"document": {"name": "notes.txt", "status": "READY", "failureReason": None}}}


def _find_graphql(run: Run) -> None:
    ids = [edge["node"]["id"] for edge in run.data["documents"]["edges"]]
    assert run.state["id"] in ids
    assert run.data["document"]["name"] == "notes.txt"
    assert run.data["document"]["downloadUrl"].startswith("http://127.0.0.1:")
    assert run.data["me"]["usage"]["reservedBytes"] == 0


def _download_shell(run: Run) -> None:
    first, rest = run.stdout.split("\n", 1)
    assert first == "downloaded the same 12 bytes"
    (me,) = answers(rest)
    assert me["data"]["me"]["plan"] == ("FREE" if run.round == 1 else "PREMIUM")


def _search_graphql(run: Run) -> None:
    assert run.data == {"search": {"__typename": "SearchConnection", "edges": []}}


def _search_shell(run: Run) -> None:
    assert run.data["search"]["__typename"] == "SearchConnection"
    hits = {edge["node"]["document"]["id"]: edge["node"] for edge in run.data["search"]["edges"]}
    assert hits[run.state["id"]]["document"]["name"] == "notes.txt"


def _upgrade_graphql(run: Run) -> None:
    payload = run.data["upgradePlan"]
    assert payload["__typename"] == "PlanChangePayload"
    assert payload["previousPlan"] == ("FREE" if run.round == 1 else "PREMIUM")
    assert payload["account"]["plan"] == "PREMIUM"
    assert payload["account"]["usage"]["limitBytes"] == 20 * 1024**3


def _upgrade_shell(run: Run) -> None:
    assert run.data == {
        "upgradePlan": {"__typename": "PlanChangePayload", "previousPlan": "PREMIUM", "account": {"plan": "PREMIUM"}}
    }


def _update_graphql(run: Run) -> None:
    document = run.data["updateDocument"]
    assert (document["__typename"], document["id"], document["name"]) == ("Document", run.state["id"], "hello.txt")
    assert (document["tags"], document["description"]) == (["demo", "greetings"], "My first document")


def _update_shell(run: Run) -> None:
    assert run.data == {
        "updateDocument": {
            "__typename": "Document",
            "id": run.state["id"],
            "name": "hello.txt",
            "tags": ["demo", "greetings"],
        }
    }


def _move_graphql(run: Run) -> None:
    document_id = run.state["id"]
    assert run.data == {
        "moveDocument": {
            "__typename": "Document",
            "id": document_id,
            "name": "hello.txt",
            "path": f"/greetings/{document_id}.txt",
        }
    }


def _move_shell(run: Run) -> None:
    document_id = run.state["id"]
    moved, listed = answers(run.stdout)
    assert moved == {
        "data": {
            "moveDocument": {
                "__typename": "Document",
                "id": document_id,
                "name": "hello.txt",
                "path": f"/archive/{document_id}.txt",
            }
        }
    }
    assert {"node": {"id": document_id, "path": f"/archive/{document_id}.txt"}} in listed["data"]["documents"]["edges"]


def _watch_shell(run: Run) -> None:
    lines = run.stdout.splitlines()
    assert json.loads(lines[0]) == {"type": "connection_ack"}
    events = [json.loads(line) for line in lines[1:]]
    assert {event["documentId"] for event in events} == {run.state["watched"]}
    assert events[-1]["__typename"] == "DocumentReady"
    assert events[0]["__typename"] == "UploadStarted"


def _watch_upload(run: Run) -> None:
    name, watched, status, size = run.stdout.split(" ", 3)
    assert (name, status, size) == ("notes.txt:", "PROCESSING", "(12 B)\n")
    run.state["watched"] = watched


def _delete_graphql(run: Run) -> None:
    assert run.data == {
        "deleteDocument": {"__typename": "DeleteDocumentPayload", "id": run.state["fresh"], "freedBytes": 5}
    }


def _delete_shell(run: Run) -> None:
    assert run.data == {
        "deleteDocument": {"__typename": "DeleteDocumentPayload", "id": run.state["id"], "freedBytes": 12}
    }


EXPECT: dict[str, Callable[[Run], None]] = {
    "terminal-login": _terminal_login,
    "terminal-use": _terminal_use,
    "terminal-hash": _terminal_hash,
    "signup-graphql": _signup_graphql,
    "signup-shell": _signup_shell,
    "request-upload": _request_upload,
    "post-to-s3": _post_to_s3,
    "complete-graphql": _complete_graphql,
    "complete-shell": _complete_shell,
    "find-graphql": _find_graphql,
    "download-shell": _download_shell,
    "search-graphql": _search_graphql,
    "search-shell": _search_shell,
    "upgrade-graphql": _upgrade_graphql,
    "upgrade-shell": _upgrade_shell,
    "update-graphql": _update_graphql,
    "update-shell": _update_shell,
    "move-graphql": _move_graphql,
    "move-shell": _move_shell,
    "watch-shell": _watch_shell,
    "watch-upload": _watch_upload,
    "delete-graphql": _delete_graphql,
    "delete-shell": _delete_shell,
}


def test_every_block_the_readme_runs_has_an_expectation() -> None:
    assert [block.name for block in readme_blocks()] == list(EXPECT)


@pytest.fixture
def terminal(tmp_path: Path, live_url: str) -> Any:
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / ".venv").symlink_to(sys.prefix)  # the project folder's .venv, as the README assumes
    env = clean_env(HOME=str(tmp_path / "home"), DOCSTORE_API=f"{live_url}/graphql")
    env.pop("XDG_CONFIG_HOME", None)
    shell = Terminal(folder, env)
    yield shell
    shell.close()


@pytest.fixture
def default_sign_in_limits(live_server: LiveServer) -> Iterator[None]:
    """The session's server counts sign-in and sign-up attempts as a fresh install does (the suite
    raises the limits, since all its users sign in from 127.0.0.1): a person pastes the README into
    a server with the default limits."""
    limits: AuthLimits = live_server.app.state.services.auth_limits
    raised = limits.per_ip, limits.per_email
    defaults = Settings.from_env({})
    limits.per_ip = dataclasses.replace(limits.per_ip, amount=defaults.auth_attempts_per_ip)
    limits.per_email = dataclasses.replace(limits.per_email, amount=defaults.auth_attempts_per_email)
    live_server.call(limits.reset())
    try:
        yield
    finally:
        limits.per_ip, limits.per_email = raised
        live_server.call(limits.reset())


@pytest.mark.usefixtures("default_sign_in_limits")
def test_the_readme_examples_work_pasted_twice_in_a_row(terminal: Terminal, api: Api, live_url: str) -> None:
    address = live_url.removeprefix("http://")
    blocks = readme_blocks()
    state: dict[str, Any] = {
        "api": f"{live_url}/graphql",
        "home": terminal.folder.parent / "home",
        "folder": terminal.folder,
    }
    for round in (1, 2):
        watching: int | None = None
        for block in blocks:
            body = block.body.replace("127.0.0.1:8000", address)
            if block.lang == "graphql":
                state["token"] = terminal.variable("TOKEN")
                run = _graphql(api, body, state, fresh="fresh-id" in block.options)
            elif "background" in block.options:
                watching = terminal.send(body, background=True)
                _wait_for_output(terminal, watching, "connection_ack")
                continue
            else:
                status, stdout, stderr = terminal.finish(terminal.send(body))
                run = Run(round, status, stdout, stderr, state)
                state["token"], state["id"] = terminal.variable("TOKEN"), terminal.variable("ID")
            run.round, run.state = round, state
            assert (run.status, run.stderr) == (0, ""), f"{block.name} (round {round}): {run.stdout}{run.stderr}"
            EXPECT[block.name](run)
            if watching is not None and block.name == "watch-upload":
                status, stdout, stderr = terminal.finish(watching)
                watched = Run(round, status, stdout, stderr, state)
                assert (status, stderr) == (0, ""), f"watch-shell (round {round}): {stdout}{stderr}"
                EXPECT["watch-shell"](watched)
                watching = None
        user = User(token=state["token"], id="", email=EMAIL)
        assert api.usage(user)["reservedBytes"] == 0  # nothing half done
        pending = api.data("Documents", {"filter": {"status": "PENDING_UPLOAD"}}, user.token)["documents"]["edges"]
        assert pending == []


def _graphql(api: Api, query: str, state: dict[str, Any], *, fresh: bool) -> Run:
    """A GraphQL block, sent as GraphiQL sends it with the token in its Headers tab; ``<id>`` is
    the document of the shell's steps, or with ``fresh-id`` one uploaded for the block."""
    token = state.get("token") or None
    document_id = state.get("id", "")
    if fresh:
        form = api.data(
            "RequestUpload",
            {"input": {"filename": "fresh.txt", "contentType": "text/plain", "size": 5}},
            token,
        )["requestUpload"]
        post_form(form, b"fresh")
        api.data("CompleteUpload", {"input": {"documentId": form["documentId"]}}, token)
        document_id = state["fresh"] = form["documentId"]
    answer = api.raw(query.replace("<id>", document_id), token=token)
    return Run(0, 0, json.dumps(answer), "", state)


def _wait_for_output(terminal: Terminal, number: int, text: str, timeout: float = 60) -> None:
    """Until a background block has printed ``text`` (the subscription's acknowledgement)."""
    deadline = time.monotonic() + timeout
    while text not in terminal.output(number):
        assert time.monotonic() < deadline, f"block {number} did not print {text!r}: {terminal.output(number)}"
        time.sleep(0.05)


class Recording(dict[str, str]):
    """An empty environment that remembers every variable asked of it."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.asked.add(key)
        return default


def test_the_settings_tables_list_every_setting() -> None:
    from settings import Settings

    environment = Recording()
    Settings.from_env(environment)
    listed = {
        name
        for row in README.read_text().splitlines()
        if row.startswith("| `DOCSTORE_")
        for name in re.findall(r"`(DOCSTORE_[A-Z0-9_]+)`", row.split(" | ")[0])
    }

    assert "DOCSTORE_SWEEP_GRACE_SECONDS" in environment.asked
    assert sorted(environment.asked - listed) == []
