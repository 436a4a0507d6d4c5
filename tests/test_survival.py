"""Issue 9's "Must survive": ``kill -9`` of `docstore serve`, or of its embedded AWS, while clients
upload, delete and change plans; then a restart on the same data folder.

What the clients were told is compared with what the restarted API answers. A request that got an
answer must have happened; the one request each client had in flight at the kill may have happened
or not, and nothing else is accepted.
"""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import httpx
import pytest

from tests import plain_http
from tests.client import Api, User, operation
from tests.serving import descendants, docstore, serve

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Iterator

#: Short enough that forms left pending are settled within seconds of the restart. A received
#: message comes back after the visibility timeout, which stays longer than an extraction may take.
SETTINGS = {
    "DOCSTORE_UPLOAD_FORM_SECONDS": "6",
    "DOCSTORE_SWEEP_GRACE_SECONDS": "1",
    "DOCSTORE_SWEEP_INTERVAL_SECONDS": "1",
    "DOCSTORE_EXTRACTION_SECONDS": "5",
    "DOCSTORE_QUEUE_VISIBILITY_SECONDS": "8",
    "DOCSTORE_QUEUE_WAIT_SECONDS": "1",
    "DOCSTORE_EXTRACTION_PROCESSES": "1",
}
CLIENTS = 3
#: Answers the clients must have had, all together and each, before the kill.
ANSWERED_BEFORE_KILL = 45
EACH = 8
FREE_LIMIT = 5 * 1024**3
OTHER_PLAN = {"FREE": "PREMIUM", "PREMIUM": "FREE"}

PRESENT = "present"
ABSENT = "absent"


class Unanswered(Exception):
    """A request got no answer (the connection failed, or the server answered with an error):
    it may or may not have happened."""


def ask(api: Api, name: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
    """The data of operation ``name``; :class:`Unanswered` when there is none."""
    headers = {"Authorization": f"Bearer {token}"}
    try:
        response = api.http.post("/graphql", json={"query": operation(name), "variables": variables}, headers=headers)
    except httpx.TransportError as error:
        raise Unanswered(f"{name}: {error!r}") from None
    if response.status_code != 200:
        raise Unanswered(f"{name}: HTTP {response.status_code}")
    body = response.json()
    if body.get("errors"):
        raise Unanswered(f"{name}: {body['errors']}")
    return dict(body["data"])


def post_file(form: dict[str, Any], content: bytes) -> None:
    """POST the file to S3 with its form; :class:`Unanswered` unless S3 said it stored it."""
    fields = {item["name"]: item["value"] for item in form["fields"]}
    try:
        response = plain_http.post(form["url"], data=fields, files={"file": ("upload.txt", content)}, timeout=60)
    except httpx.TransportError as error:
        raise Unanswered(f"POST to S3: {error!r}") from None
    if response.status_code not in (201, 303):
        raise Unanswered(f"POST to S3: HTTP {response.status_code}")


@dataclass
class Upload:
    """One upload as its client knows it: the last ``step`` that was answered, and whether the
    request that would take it further was in flight when the server died."""

    content: bytes
    step: str  # requested, posted, completed, rejected, deleted
    in_flight: bool = False

    def outcomes(self) -> set[str]:
        """What the restarted API may show of it, once forms left pending are settled."""
        if self.step == "requested":
            # The file never posted: the sweeper rejects it. Its POST in flight: the file may have
            # landed (then the sweeper completes it) or not.
            return {PRESENT, ABSENT} if self.in_flight else {ABSENT}
        if self.step == "posted":
            return {PRESENT}  # the file is there: completed now, or by the sweeper after the restart
        if self.step == "completed":
            return {PRESENT, ABSENT} if self.in_flight else {PRESENT}  # in flight: its delete
        return {ABSENT}  # rejected, deleted


@dataclass
class Client:
    """One account and what it was told, driven by one thread."""

    user: User
    plan: str
    seed: int
    #: A plan change that got no answer.
    plan_asked: str | None = None
    uploads: dict[str, Upload] = field(default_factory=dict)
    answered: int = 0
    #: Why the stream stopped: the request that got no answer.
    stopped_by: str = ""

    def run(self, api: Api, killed: threading.Event, errors: list[str]) -> None:
        rng = random.Random(self.seed)
        try:
            while True:
                roll = rng.random()
                completed = [key for key, upload in self.uploads.items() if upload.step == "completed"]
                if roll < 0.2:
                    self.change_plan(api)
                elif roll < 0.4 and completed:
                    self.delete(api, rng.choice(completed))
                else:
                    self.upload(api, rng)
                self.answered += 1
        except Unanswered as error:
            self.stopped_by = str(error)
            if not killed.is_set():
                errors.append(f"{self.user.email}: no answer before the kill: {error}")
        except BaseException:
            errors.append(f"{self.user.email}: {traceback.format_exc()}")

    def upload(self, api: Api, rng: random.Random) -> None:
        content = f"{self.user.email} document {uuid.uuid4().hex}\n".encode()
        fields = {"filename": f"{uuid.uuid4().hex[:8]}.txt", "contentType": "text/plain", "size": len(content)}
        form = ask(api, "RequestUpload", {"input": fields}, self.user.token)["requestUpload"]
        assert form["__typename"] == "UploadForm", form
        upload = self.uploads[form["documentId"]] = Upload(content, "requested")
        if rng.random() < 0.1:
            return  # left without its file
        upload.in_flight = True
        post_file(form, content)
        upload.step, upload.in_flight = "posted", False
        if rng.random() < 0.1:
            return  # the file posted, but never completed
        upload.in_flight = True
        document = ask(api, "CompleteUpload", {"input": {"documentId": form["documentId"]}}, self.user.token)
        result = document["completeUpload"]
        # Rejected only if the sweeper settled the form first (a slow client): then it stays rejected.
        assert result["__typename"] in ("Document", "UploadRejectedError"), result
        upload.step = "completed" if result["__typename"] == "Document" else "rejected"
        upload.in_flight = False

    def delete(self, api: Api, document_id: str) -> None:
        upload = self.uploads[document_id]
        upload.in_flight = True
        result = ask(api, "DeleteDocument", {"input": {"id": document_id}}, self.user.token)["deleteDocument"]
        assert result["__typename"] == "DeleteDocumentPayload", result
        assert result["freedBytes"] == len(upload.content), result
        upload.step, upload.in_flight = "deleted", False

    def change_plan(self, api: Api) -> None:
        self.plan_asked = OTHER_PLAN[self.plan]
        result = ask(api, "UpgradePlan", {"input": {"plan": self.plan_asked}}, self.user.token)["upgradePlan"]
        assert result["__typename"] == "PlanChangePayload", result
        assert (result["previousPlan"], result["account"]["plan"]) == (self.plan, self.plan_asked), result
        self.plan, self.plan_asked = self.plan_asked, None


@pytest.fixture
def started() -> Iterator[list[int]]:
    """Every process a test's servers started; whatever is left of them at its end is killed."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def aws_child(process: subprocess.Popen[str]) -> int:
    (pid,) = [pid for pid in descendants(process.pid) if "adapters.aws_process" in cmdline(pid)]
    return pid


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""


def kill(process: subprocess.Popen[str], victim: str, started: list[int]) -> None:
    """``kill -9`` the API process or its embedded AWS; return once both are gone."""
    aws = aws_child(process)
    started.extend([process.pid, *descendants(process.pid)])
    os.kill(process.pid if victim == "api" else aws, signal.SIGKILL)
    # Killed itself, or (its AWS killed) stopping whole because its AWS is gone.
    assert process.wait(timeout=60) == (-signal.SIGKILL if victim == "api" else 1)
    deadline = time.monotonic() + 60
    while alive(aws):  # killed with the API, it stops by itself once its stdin closes
        assert time.monotonic() < deadline, "the embedded AWS outlived its server"
        time.sleep(0.05)


def listed(api: Api, user: User, status: str | None = None) -> list[dict[str, Any]]:
    """Every document the account lists (the stored ones, or those with ``status``), all pages."""
    found: list[dict[str, Any]] = []
    after = None
    while True:
        variables: dict[str, Any] = {"first": 100, "after": after, "filter": {"status": status} if status else None}
        page = api.data("Documents", variables, user.token)["documents"]
        found += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


def settled(api: Api, user: User, timeout: float) -> list[dict[str, Any]]:
    """The account's stored documents once no form is pending and the pipeline is done."""
    deadline = time.monotonic() + timeout
    while True:
        pending = listed(api, user, "PENDING_UPLOAD")
        stored = listed(api, user)
        processing = [document["id"] for document in stored if document["status"] == "PROCESSING"]
        if not pending and not processing:
            return stored
        assert time.monotonic() < deadline, f"not settled: pending {pending}, processing {processing}"
        time.sleep(0.2)


def server_log(tmp_path: Path, name: str) -> IO[str]:
    return (tmp_path / f"{name}.log").open("w")


@pytest.mark.timeout(420)  # two server start-ups, a stream, then forms expiring: the waits are bounded inside
@pytest.mark.parametrize("victim", ["api", "aws"])
def test_a_kill_during_uploads_deletes_and_plan_changes_loses_nothing_and_counts_nothing_twice(
    tmp_path: Path, victim: str, started: list[int]
) -> None:
    data_dir = tmp_path / "data"
    with server_log(tmp_path, "before") as output:
        url, process = serve(data_dir, output=output, **SETTINGS)
    started.append(process.pid)
    api = Api(url)
    clients = [Client(api.sign_up(plan), plan, seed) for seed, plan in enumerate(["FREE", "PREMIUM", "FREE"])]
    assert len(clients) == CLIENTS
    killed = threading.Event()
    errors: list[str] = []
    threads = [threading.Thread(target=c.run, args=(Api(url), killed, errors), daemon=True) for c in clients]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 180
    while sum(c.answered for c in clients) < ANSWERED_BEFORE_KILL or min(c.answered for c in clients) < EACH:
        assert not errors, errors
        assert time.monotonic() < deadline, [c.answered for c in clients]
        time.sleep(0.01)

    killed.set()
    kill(process, victim, started)
    for thread in threads:
        thread.join(timeout=90)
    assert [thread.is_alive() for thread in threads] == [False] * CLIENTS
    assert errors == []
    assert all(c.stopped_by for c in clients)

    with server_log(tmp_path, "after") as output:
        url, process = serve(data_dir, output=output, **SETTINGS)
    started.append(process.pid)
    api = Api(url)
    totals = [0, 0]
    for client in clients:
        # The old token still works: the session was kept.
        me = api.data("Me", token=client.user.token)["me"]
        plans = {client.plan} if client.plan_asked is None else {client.plan, client.plan_asked}
        assert me["plan"] in plans, (client.user.email, me["plan"], plans)
        stored = {document["id"]: document for document in settled(api, client.user, timeout=120)}
        unknown = set(stored) - set(client.uploads)
        assert unknown == set(), f"documents nobody completed: {unknown}"
        for document_id, upload in client.uploads.items():
            outcome = PRESENT if document_id in stored else ABSENT
            assert outcome in upload.outcomes(), (document_id, upload, outcome)
            if outcome == PRESENT:
                document = stored[document_id]
                assert (document["size"], document["status"]) == (len(upload.content), "READY"), document
                fetched = api.data("Document", {"id": document_id}, client.user.token)["document"]
                got = plain_http.get(fetched["downloadUrl"], timeout=30)
                # A delete cut short after it removed the file but before the record would show here.
                assert (got.status_code, got.content) == (200, upload.content), (document_id, upload)
            elif upload.step == "deleted":
                answer = api.call("Document", {"id": document_id}, client.user.token)
                assert [e["extensions"]["code"] for e in answer["errors"]] == ["NOT_FOUND"], answer
        usage = api.usage(client.user)
        used = sum(int(document["size"]) for document in stored.values())
        assert (usage["usedBytes"], usage["documentCount"], usage["reservedBytes"]) == (used, len(stored), 0)
        totals[0] += len(stored)
        totals[1] += used

    recount = docstore("stats", "--recount", "--json", "--data-dir", str(data_dir), **SETTINGS)
    assert recount.returncode == 0, recount.stderr
    report = json.loads(recount.stdout)
    assert (report["drift"], report["unsettled"]) == (False, False), report
    counted = report["counters"]
    assert (counted["documentCount"], counted["totalStorageBytes"]) == tuple(totals)
    started.extend(descendants(process.pid))
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 0


@pytest.mark.timeout(300)
@pytest.mark.parametrize("victim", ["api", "aws"])
def test_delayed_messages_pending_at_the_kill_are_delivered_after_the_restart(
    tmp_path: Path, victim: str, started: list[int]
) -> None:
    # The periodic sweep is out of the way (its first pass at start-up finds nothing due yet):
    # only the delayed `upload.started` message, sent when each form was issued, can settle them.
    settings = {
        **SETTINGS,
        "DOCSTORE_UPLOAD_FORM_SECONDS": "30",
        "DOCSTORE_SWEEP_GRACE_SECONDS": "0",
        "DOCSTORE_SWEEP_INTERVAL_SECONDS": "3600",
    }
    data_dir = tmp_path / "data"
    with server_log(tmp_path, "before") as output:
        url, process = serve(data_dir, output=output, **settings)
    started.append(process.pid)
    api = Api(url)
    user = api.sign_up()
    content = b"posted, then the server died before completeUpload\n"
    never_posted = api.request_upload(user, size=20)["documentId"]
    form = api.request_upload(user, size=len(content))
    post_file(form, content)
    posted = form["documentId"]

    kill(process, victim, started)

    log_path = tmp_path / "after.log"
    with server_log(tmp_path, "after") as output:
        url, process = serve(data_dir, output=output, **settings)
    started.append(process.pid)
    api = Api(url)
    waiting = sorted(document["id"] for document in listed(api, user, "PENDING_UPLOAD"))
    assert waiting == sorted([never_posted, posted])
    held = {"usedBytes": 0, "reservedBytes": 20 + len(content), "limitBytes": FREE_LIMIT, "documentCount": 0}
    assert api.usage(user) == held

    stored = settled(api, user, timeout=90)  # the messages are due 31 s after the forms were issued

    assert [(d["id"], d["size"], d["status"]) for d in stored] == [(posted, len(content), "READY")]
    assert [d["id"] for d in listed(api, user, "REJECTED")] == [never_posted]
    fetched = api.data("Document", {"id": posted}, user.token)["document"]
    assert plain_http.get(fetched["downloadUrl"], timeout=30).content == content
    assert api.usage(user) == {
        "usedBytes": len(content),
        "reservedBytes": 0,
        "limitBytes": FREE_LIMIT,
        "documentCount": 1,
    }
    started.extend(descendants(process.pid))
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 0
    said = log_path.read_text()
    assert f"upload {never_posted} settled after its form expired: rejected:MISSING_OBJECT" in said
    assert f"upload {posted} settled after its form expired: completed" in said
