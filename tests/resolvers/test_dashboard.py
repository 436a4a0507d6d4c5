"""The dashboard and the administration commands, on a DocStore stack of their own.

The counters are service-wide, so these tests run `docstore serve` in its own process with its
own embedded AWS (its data folder), and the figures are exact absolute numbers: nothing else
uploads there. `docstore admin` and `docstore stats` attach to it through the data folder, as an
operator runs them beside a server.
"""

from __future__ import annotations

import io
import json
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest

from adapters import local_aws
from tests.client import Api, User, error_codes, sample
from tests.serving import clean_env, docstore, start
from tests.workers import files

TYPES = ("application/pdf", "application/zip", "application/json", "text/plain", "image/png")


class Stack:
    """`docstore serve` (API, workers, embedded AWS) in a process, and the command beside it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.data_dir = folder / "data"
        self.served = start(
            "serve",
            env=clean_env(DOCSTORE_QUEUE_WAIT_SECONDS="1", DOCSTORE_EXTRACTION_PROCESSES="2"),
            data_dir=self.data_dir,
            timeout=90,
        )
        self.url = self.served.url
        self.api = Api(self.url)

    def docstore(self, *args: str) -> subprocess.CompletedProcess[str]:
        return docstore(*args, "--data-dir", str(self.data_dir), timeout=120)

    def stats(self, *args: str) -> dict[str, Any]:
        result = self.docstore("stats", "--json", *args)
        assert result.returncode == 0, result.stdout + result.stderr
        return json.loads(result.stdout)

    def counters_table(self) -> Any:
        endpoint = local_aws.running_endpoint(self.data_dir)
        client = boto3.client(
            "dynamodb",
            endpoint_url=endpoint,
            region_name="us-west-2",
            aws_access_key_id="docstore-embedded",
            aws_secret_access_key="docstore-embedded-secret",
        )
        return client, "docstore-counters"

    def stop(self) -> None:
        self.served.end()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(tmp_path_factory.mktemp("dashboard"))
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def admin(stack: Stack) -> User:
    user = stack.api.sign_up(plan="PREMIUM")
    result = stack.docstore("admin", "grant", user.email.upper())
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"granted ADMIN to {user.email} (account {user.id})\n"
    return user


def dashboard(stack: Stack, admin: User) -> dict[str, Any]:
    return stack.api.data("Dashboard", token=admin.token)["dashboard"]


def settled_dashboard(stack: Stack, admin: User, accounts: int, timeout: float = 120) -> dict[str, Any]:
    """The dashboard once every account is counted and no queue has work waiting."""
    deadline = time.monotonic() + timeout
    while True:
        figures = dashboard(stack, admin)
        counted = sum(entry["accounts"] for entry in figures["accountsPerPlan"])
        if counted == accounts and all(q["messages"] == 0 for q in figures["queueDepth"]):
            return figures
        assert time.monotonic() < deadline, figures
        time.sleep(0.2)


def content(number: int, content_type: str, folder: Path) -> bytes:
    label = f"document {number} " + "x" * (number * 37)
    if content_type == "image/png":
        buffer = io.BytesIO()
        files.picture(f"doc {number}", size=24).save(buffer, "PNG")
        return buffer.getvalue()
    return sample(content_type, label)


def test_dashboard_without_a_token_is_unauthenticated(stack: Stack) -> None:
    body = stack.api.call("Dashboard")

    assert body["data"] is None
    assert error_codes(body) == ["UNAUTHENTICATED"]


def test_dashboard_for_a_user_is_forbidden_and_reveals_nothing(stack: Stack) -> None:
    user = stack.api.sign_up()

    body = stack.api.call("Dashboard", token=user.token)

    assert body == {
        "data": None,
        "errors": [
            {
                "message": "Only administrators may do this.",
                "locations": body["errors"][0]["locations"],
                "path": ["dashboard"],
                "extensions": {"code": "FORBIDDEN"},
            }
        ],
    }


def test_grant_and_revoke_change_who_may_read_the_dashboard(stack: Stack) -> None:
    user = stack.api.sign_up()

    granted = stack.docstore("admin", "grant", user.email)
    again = stack.docstore("admin", "grant", user.email)
    allowed = stack.api.call("Dashboard", token=user.token)
    revoked = stack.docstore("admin", "revoke", user.email)
    refused = stack.api.call("Dashboard", token=user.token)

    assert (granted.returncode, granted.stdout) == (0, f"granted ADMIN to {user.email} (account {user.id})\n")
    assert (again.returncode, again.stdout) == (0, f"{user.email} is already ADMIN\n")
    assert "errors" not in allowed
    assert (revoked.returncode, revoked.stdout) == (0, f"revoked ADMIN from {user.email} (account {user.id})\n")
    assert error_codes(refused) == ["FORBIDDEN"]


def test_grant_to_an_unknown_email_fails_and_grants_nothing(stack: Stack) -> None:
    result = stack.docstore("admin", "grant", "nobody-here@example.com")
    bad = stack.docstore("admin", "grant", "not an email")

    assert result.returncode == 1
    assert result.stdout == ""
    assert "no account has the email nobody-here@example.com" in result.stderr
    assert bad.returncode == 1
    assert "The email is not valid" in bad.stderr


def test_admin_without_a_running_server_says_what_to_do(tmp_path: Path) -> None:
    result = docstore("admin", "grant", "a@example.com", "--data-dir", str(tmp_path))

    assert result.returncode == 1
    assert "no embedded AWS is running on the data folder" in result.stderr


@pytest.mark.timeout(600)
def test_50_concurrent_uploads_and_deletes_leave_the_dashboard_equal_to_a_recount(
    stack: Stack, admin: User, tmp_path: Path
) -> None:
    # Given accounts on both plans (the admin is a PREMIUM account too)
    users = [stack.api.sign_up(plan=plan) for plan in ("FREE", "FREE", "FREE", "PREMIUM", "PREMIUM")]
    plan_of = {user.id: plan for user, plan in zip(users, ("FREE", "FREE", "FREE", "PREMIUM", "PREMIUM"), strict=True)}
    # Encrypted PDFs on PREMIUM cannot be extracted: those documents FAIL (and stay stored).
    locked = files.encrypted_pdf(tmp_path / "locked.pdf", user_password="secret").read_bytes()

    def one(number: int) -> dict[str, Any] | None:
        api = Api(stack.url)
        user = users[number % len(users)]
        if number in (3, 14):  # kept documents of PREMIUM accounts
            data, content_type = locked, "application/pdf"
        else:
            content_type = TYPES[number % len(TYPES)]
            data = content(number, content_type, tmp_path)
        document = api.submit(user, data, filename=f"file-{number}", contentType=content_type)
        if number % 4 == 0:  # deleted while the pipeline works on it
            api.data("DeleteDocument", {"input": {"id": document["id"]}}, user.token)
            return None
        final = api.settled(user, document["id"])
        if number % 4 == 1:  # deleted once processed
            api.data("DeleteDocument", {"input": {"id": document["id"]}}, user.token)
            return None
        return {"owner": user.id, "type": content_type, "size": len(data), "status": final["status"]}

    # When 50 uploads and deletes run at once
    with ThreadPoolExecutor(10) as pool:
        kept = [document for document in pool.map(one, range(50)) if document is not None]

    # Then, once everything settled, the counters say exactly what was kept ...
    figures = settled_dashboard(stack, admin, accounts=len(users) + 1 + 2)  # + the admin and 2 earlier users
    assert len(kept) == 24
    assert sorted(document["status"] for document in kept if document["status"] != "READY") == ["FAILED", "FAILED"]
    assert figures["documentCount"] == 24
    assert figures["totalStorageBytes"] == sum(document["size"] for document in kept)
    assert figures["averageDocumentSize"] == (2 * figures["totalStorageBytes"] + 24) // 48  # half up
    assert figures["failedDocuments"] == 2
    assert figures["accountsOverQuota"] == 0
    by_type: dict[str, list[int]] = {}
    by_plan = {"FREE": [0, 0], "PREMIUM": [0, 0]}
    for document in kept:
        by_type.setdefault(document["type"], [0, 0])
        for totals in (by_type[document["type"]], by_plan[plan_of[document["owner"]]]):
            totals[0] += 1
            totals[1] += document["size"]
    assert figures["perContentType"] == [
        {"contentType": name, "documents": n, "bytes": size} for name, (n, size) in sorted(by_type.items())
    ]
    assert figures["perPlan"] == [
        {"plan": plan, "documents": n, "bytes": size} for plan, (n, size) in sorted(by_plan.items())
    ]
    assert figures["accountsPerPlan"] == [{"plan": "FREE", "accounts": 5}, {"plan": "PREMIUM", "accounts": 3}]
    assert figures["queueDepth"] == [
        {"queue": "upload-events", "messages": 0, "deadLetters": 0},
        {"queue": "account-events", "messages": 0, "deadLetters": 0},
        {"queue": "search-index", "messages": 0, "deadLetters": 0},
        {"queue": "backfill", "messages": 0, "deadLetters": 0},
    ]
    # ... and a full recount of the tables agrees, finding no drift to repair.
    report = stack.stats("--recount")
    assert report["drift"] is False, report["lines"]
    assert report["recount"] == report["counters"] == figures
    assert report["lines"][-1] == "no drift: every counter equals the recount"


def test_recount_repairs_a_counter_corrupted_by_hand(stack: Stack, admin: User) -> None:
    user = stack.api.sign_up()
    stack.api.upload(user, b"some words\n", filename="words.txt", contentType="text/plain")
    truth = stack.stats("--recount")
    assert truth["drift"] is False, truth["lines"]
    client, table = stack.counters_table()
    client.update_item(
        TableName=table,
        Key={"name": {"S": "type:text/plain"}},
        UpdateExpression="ADD documents :d, #b :b",
        ExpressionAttributeNames={"#b": "bytes"},
        ExpressionAttributeValues={":d": {"N": "3"}, ":b": {"N": "-7"}},
    )
    corrupted = dashboard(stack, admin)["perContentType"]

    repaired = stack.stats("--recount")
    again = stack.stats("--recount")

    text = next(entry for entry in truth["counters"]["perContentType"] if entry["contentType"] == "text/plain")
    assert {"contentType": "text/plain", "documents": text["documents"] + 3, "bytes": text["bytes"] - 7} in corrupted
    assert repaired["drift"] is True
    assert any(
        line.split()[:2] == ["type:text/plain", "documents"] and line.endswith("-3  repaired")
        for line in repaired["lines"]
    ), repaired["lines"]
    assert repaired["recount"] == truth["counters"]
    assert again["drift"] is False
    assert again["counters"] == again["recount"] == truth["counters"]
    assert dashboard(stack, admin)["perContentType"] == truth["counters"]["perContentType"]


def test_stats_prints_the_figures(stack: Stack, admin: User) -> None:
    result = stack.docstore("stats")

    expected = dashboard(stack, admin)
    assert result.returncode == 0, result.stderr
    assert f"documents            {expected['documentCount']:,}\n" in result.stdout
    assert f"total storage        {expected['totalStorageBytes']:,} bytes\n" in result.stdout
    assert "queue upload-events" in result.stdout
