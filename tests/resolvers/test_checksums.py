"""compareChecksums through the API, over real HTTP against the session's live server: every state
with the document a client needs, paths ignoring case, bad input as BAD_USER_INPUT naming every
field, the limits (10,000 files pass the operation limits by default, more are refused), and
another account's documents never answered."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from strawberry.types.arguments import convert_argument

from domain import content_hash
from domain.checksums import ChecksumState
from resolvers.checksums import ANSWER_BATCH, answer
from schema.checksums import ClientFile, CompareChecksumsInput
from schema.root import build_schema
from services.checksums import Comparison
from settings import Settings
from tests import plain_http
from tests.client import Api, User

HELLO = content_hash.of_bytes(b"hello world")
OTHER = content_hash.of_bytes(b"other bytes")
BAD_HASH = "A content hash is 64 hexadecimal characters (docstore hash FILE computes it)."


def compare(api: Api, user: User, files: list[dict[str, str]], prefix: str = "/") -> list[dict[str, Any]]:
    variables = {"input": {"files": files, "pathPrefix": prefix}}
    result: list[dict[str, Any]] = api.data("CompareChecksums", variables, user.token)["compareChecksums"]
    return result


def ready(api: Api, user: User, content: bytes, path: str) -> dict[str, Any]:
    document = api.settled(user, api.submit(user, content, filename=path.rpartition("/")[2], path=path)["id"])
    assert document["status"] == "READY", document
    return document


def test_each_state_with_the_servers_document(api: Api, user: User) -> None:
    same = ready(api, user, b"hello world", "/sync/same.txt")
    changed = ready(api, user, b"other bytes", "/sync/changed.txt")
    lacked = ready(api, user, b"hello world", "/sync/a/lacked.txt")
    pending = api.request_upload(user, filename="pending.txt", path="/sync/pending.txt")
    ready(api, user, b"hello world", "/elsewhere.txt")
    files = [
        {"path": "/sync/changed.txt", "contentHash": HELLO},
        {"path": "/sync/new.txt", "contentHash": HELLO},
        {"path": "/sync/SAME.txt", "contentHash": HELLO.upper()},
    ]

    answer = compare(api, user, files, "/sync/")

    assert [(item["path"], item["state"]) for item in answer] == [
        ("/sync/changed.txt", "DIFFERENT"),
        ("/sync/new.txt", "NOT_ON_SERVER"),
        ("/sync/SAME.txt", "UNCHANGED"),
        ("/sync/a/lacked.txt", "NOT_ON_CLIENT"),
        ("/sync/pending.txt", "PENDING"),
    ]
    documents = [item["document"] for item in answer]
    assert [(doc["id"], doc["path"], doc["contentHash"]) if doc else None for doc in documents] == [
        (changed["id"], "/sync/changed.txt", OTHER),
        None,
        (same["id"], "/sync/same.txt", HELLO),
        (lacked["id"], "/sync/a/lacked.txt", HELLO),
        (pending["documentId"], "/sync/pending.txt", None),
    ]
    assert plain_http.get(documents[0]["downloadUrl"], timeout=30).content == b"other bytes"
    assert plain_http.get(documents[3]["downloadUrl"], timeout=30).content == b"hello world"
    assert (documents[4]["status"], documents[4]["downloadUrl"]) == ("PENDING_UPLOAD", None)


def test_another_accounts_documents_are_never_answered(api: Api, user: User, other_user: User) -> None:
    ready(api, other_user, b"hello world", "/shared/theirs.txt")

    assert compare(api, user, [{"path": "/shared/theirs.txt", "contentHash": HELLO}], "/shared/") == [
        {"path": "/shared/theirs.txt", "state": "NOT_ON_SERVER", "document": None}
    ]
    assert compare(api, user, [], "/") == []


def test_bad_input_is_a_bad_user_input_naming_every_field(api: Api, user: User) -> None:
    files = [
        {"path": "/a/one.txt", "contentHash": HELLO},
        {"path": "/A/One.txt", "contentHash": "abc"},
        {"path": "/b/two.txt", "contentHash": HELLO},
    ]

    body = api.call("CompareChecksums", {"input": {"files": files, "pathPrefix": "/a/"}}, user.token)

    assert body["data"] is None
    assert [error["extensions"] for error in body["errors"]] == [
        {
            "code": "BAD_USER_INPUT",
            "fields": [
                {
                    "field": "input.files.1.path",
                    "message": "The same path as input.files.0.path (paths compare ignoring case).",
                },
                {"field": "input.files.1.contentHash", "message": BAD_HASH},
                {"field": "input.files.2.path", "message": "The path is not under pathPrefix '/a/'."},
            ],
        }
    ]


def test_without_a_session_it_is_unauthenticated(api: Api) -> None:
    body = api.call("CompareChecksums", {"input": {"files": []}})

    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_ten_thousand_files_pass_the_operation_limits_by_default(api: Api, user: User) -> None:
    files = [
        {"path": f"/sync/folder {number % 100}/file {number}.txt", "contentHash": HELLO} for number in range(10_000)
    ]

    answer = compare(api, user, files, "/sync/")

    assert len(answer) == 10_000
    assert {item["state"] for item in answer} == {"NOT_ON_SERVER"}
    assert answer[1234]["path"] == "/sync/folder 34/file 1234.txt"


def test_more_files_than_the_setting_are_refused(api: Api, user: User) -> None:
    files = [{"path": f"/f{number}", "contentHash": HELLO} for number in range(10_001)]

    body = api.call("CompareChecksums", {"input": {"files": files}}, user.token)

    assert body["data"] is None
    assert [error["extensions"] for error in body["errors"]] == [
        {
            "code": "BAD_USER_INPUT",
            "fields": [
                {
                    "field": "input.files",
                    "message": "At most 10,000 files per call (DOCSTORE_COMPARE_MAX_FILES), not 10,001: compare one "
                    "folder (pathPrefix) at a time.",
                }
            ],
        }
    ]


def test_the_answer_hands_the_event_loop_back_between_batches() -> None:
    """Each comparison is completed as the iterator yields it; every ANSWER_BATCH comparisons the
    iterator lets the other tasks of the loop run, so a long answer does not hold the process."""
    found = [Comparison(f"/f{index}", ChecksumState.NOT_ON_SERVER, None) for index in range(2 * ANSWER_BATCH + 5)]
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    async def consume() -> list[tuple[str, int]]:
        other = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        seen = [(comparison.path, ticks) async for comparison in answer(found)]
        other.cancel()
        return seen

    seen = asyncio.run(consume())

    assert [path for path, _ in seen] == [comparison.path for comparison in found]
    assert [ticks for _, ticks in seen] == [1] * ANSWER_BATCH + [2] * ANSWER_BATCH + [3] * 5


def test_the_input_is_built_as_strawberrys_own_conversion_builds_it(monkeypatch: pytest.MonkeyPatch) -> None:
    schema = build_schema(Settings())
    value = {
        "files": [{"path": "/a.txt", "contentHash": HELLO}, {"path": "/b/c.txt", "contentHash": OTHER}],
        "pathPrefix": "/",
    }

    def converted() -> object:
        return convert_argument(value, CompareChecksumsInput, schema.schema_converter.scalar_registry, schema.config)

    hooked = converted()
    monkeypatch.setattr(CompareChecksumsInput.__strawberry_definition__, "from_input", None)

    assert (
        hooked
        == converted()
        == CompareChecksumsInput(
            files=[ClientFile(path="/a.txt", content_hash=HELLO), ClientFile(path="/b/c.txt", content_hash=OTHER)],
            path_prefix="/",
        )
    )
