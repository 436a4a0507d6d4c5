"""Paths through the API: requestUpload(path), moveDocument, documents(filter: {pathPrefix}), Document.path,
over real HTTP against the session's live server."""

from __future__ import annotations

from typing import Any

import pytest

from models.paths import PathClaim
from tests.client import Api, User

NOT_FOUND = "No document with that id in this account."


def claims_of(owner_id: str) -> dict[str, str]:
    return {claim.path_key: claim.document_id for claim in PathClaim.query(owner_id, consistent_read=True)}


def move(api: Api, user: User, document_id: str, path: str) -> dict[str, Any]:
    variables = {"input": {"documentId": document_id, "path": path}}
    result: dict[str, Any] = api.data("MoveDocument", variables, user.token)["moveDocument"]
    return result


def path_of(api: Api, user: User, document_id: str) -> str:
    return str(api.data("Document", {"id": document_id}, user.token)["document"]["path"])


def paths_under(api: Api, user: User, prefix: str, **filter: Any) -> list[str]:
    """The paths listed, oldest first."""
    variables = {"filter": {"pathPrefix": prefix, **filter}, "orderBy": {"field": "CREATED_AT", "direction": "ASC"}}
    edges = api.data("Documents", variables, user.token)["documents"]["edges"]
    return [edge["node"]["path"] for edge in edges]


def test_an_upload_without_a_path_is_at_its_name_and_a_second_one_is_numbered(api: Api, user: User) -> None:
    first = api.submit(user, b"hello world", filename="notes.txt")
    second = api.submit(user, b"hello again", filename="Notes.txt")

    assert (first["path"], second["path"]) == ("/notes.txt", "/Notes (1).txt")
    assert (first["name"], second["name"]) == ("notes.txt", "Notes.txt")  # the names stay as given


def test_an_upload_goes_to_the_path_it_names(api: Api, user: User) -> None:
    document = api.submit(user, b"hello world", filename="notes.txt", path="/Work/2026/Q1 notes.txt")

    assert document["path"] == "/Work/2026/Q1 notes.txt"
    assert claims_of(user.id) == {"/work/2026/q1 notes.txt": document["id"]}


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("notes.txt", "The path must start with /."),
        ("/a//notes.txt", "The path has an empty segment (// or a / at its end)."),
        ("/a/", "The path has an empty segment (// or a / at its end)."),
        ("/", "The path names no file: it is / alone."),
        ("/a/../notes.txt", "The path may not have . or .. segments."),
        ("/a/./notes.txt", "The path may not have . or .. segments."),
        ("/a\u0000b", "path contains a control or invisible character (U+0000)."),
        ("/" + "x/" * 32 + "notes.txt", "The path has more than 32 segments."),
        ("/" + "é" * 600, "The path is longer than 1024 bytes."),
        ("/a\\b", "The path may not contain \\."),
        ("/a /b", "A segment of the path starts or ends with a space."),
    ],
)
def test_a_bad_upload_path_is_refused_with_the_field_named_and_nothing_reserved(
    api: Api, user: User, path: str, message: str
) -> None:
    result = api.request_upload(user, path=path)

    assert result == {
        "__typename": "ValidationError",
        "message": message,
        "fields": [{"field": "path", "message": message}],
    }
    assert claims_of(user.id) == {}
    assert api.usage(user)["reservedBytes"] == 0


def test_every_bad_field_of_an_upload_is_named_at_once_path_included(api: Api, user: User) -> None:
    result = api.request_upload(user, filename="", path="relative")

    assert result["fields"] == [
        {"field": "filename", "message": "The file name is empty."},
        {"field": "path", "message": "The path must start with /."},
    ]


def test_an_upload_path_is_kept_in_nfc(api: Api, user: User) -> None:
    document = api.submit(user, b"hello world", path="/cafe\u0301.txt")

    assert document["path"] == "/caf\u00e9.txt"


def test_move_renames_the_path_and_leaves_the_name(api: Api, user: User) -> None:
    document = api.submit(user, b"hello world", filename="notes.txt")

    moved = move(api, user, document["id"], "/Archive/old notes.txt")

    assert moved["__typename"] == "Document"
    assert (moved["path"], moved["name"]) == ("/Archive/old notes.txt", "notes.txt")
    assert moved["updatedAt"] > document["updatedAt"]
    assert path_of(api, user, document["id"]) == "/Archive/old notes.txt"
    assert claims_of(user.id) == {"/archive/old notes.txt": document["id"]}


def test_move_to_a_taken_path_answers_path_taken_and_changes_nothing(api: Api, user: User) -> None:
    mine = api.submit(user, b"hello world", filename="mine.txt")
    theirs = api.submit(user, b"hello world", filename="theirs.txt")

    result = move(api, user, mine["id"], "/THEIRS.txt")

    assert result == {
        "__typename": "PathTakenError",
        "message": "Another document is at /THEIRS.txt (paths ignore case).",
        "path": "/THEIRS.txt",
    }
    assert path_of(api, user, mine["id"]) == "/mine.txt"
    assert claims_of(user.id) == {"/mine.txt": mine["id"], "/theirs.txt": theirs["id"]}


def test_move_with_a_bad_path_answers_validation_error_and_changes_nothing(api: Api, user: User) -> None:
    document = api.submit(user, b"hello world", filename="notes.txt")

    result = move(api, user, document["id"], "/a/../b")

    assert result == {
        "__typename": "ValidationError",
        "message": "The path may not have . or .. segments.",
        "fields": [{"field": "path", "message": "The path may not have . or .. segments."}],
    }
    assert claims_of(user.id) == {"/notes.txt": document["id"]}


def test_moving_another_accounts_document_answers_not_found_and_changes_nothing(
    api: Api, user: User, other_user: User
) -> None:
    theirs = api.submit(other_user, b"hello world", filename="secret.txt")

    result = move(api, user, theirs["id"], "/mine now.txt")

    assert result == {"__typename": "NotFoundError", "message": NOT_FOUND, "id": theirs["id"]}
    assert path_of(api, other_user, theirs["id"]) == "/secret.txt"
    assert claims_of(other_user.id) == {"/secret.txt": theirs["id"]}
    assert claims_of(user.id) == {}


@pytest.mark.parametrize("document_id", ["01ARZ3NDEKTSV4RRFFQ69G5FAV", "not an id"])
def test_moving_an_unknown_document_answers_not_found(api: Api, user: User, document_id: str) -> None:
    assert move(api, user, document_id, "/x.txt") == {
        "__typename": "NotFoundError",
        "message": NOT_FOUND,
        "id": document_id,
    }
    assert claims_of(user.id) == {}


def test_deleting_a_document_frees_its_path(api: Api, user: User) -> None:
    document = api.submit(user, b"hello world", filename="notes.txt")
    deleted = api.data("DeleteDocument", {"input": {"id": document["id"]}}, user.token)["deleteDocument"]
    assert deleted["__typename"] == "DeleteDocumentPayload"
    assert claims_of(user.id) == {}

    again = api.submit(user, b"hello world", filename="notes.txt")

    assert again["path"] == "/notes.txt"


def test_cancelling_an_upload_frees_its_path(api: Api, user: User) -> None:
    form = api.request_upload(user, filename="notes.txt")
    api.data("DeleteDocument", {"input": {"id": form["documentId"]}}, user.token)

    assert claims_of(user.id) == {}


def test_path_prefix_lists_a_folder_and_everything_below_it_ignoring_case(api: Api, user: User) -> None:
    for path in ("/a/one.txt", "/a/b/two.txt", "/A/b/c/three.txt", "/ab.txt", "/z/a/four.txt"):
        api.submit(user, b"hello world", filename=path.rpartition("/")[2], path=path)

    assert paths_under(api, user, "/a/") == ["/a/one.txt", "/a/b/two.txt", "/A/b/c/three.txt"]
    assert paths_under(api, user, "/A/B/") == ["/a/b/two.txt", "/A/b/c/three.txt"]
    assert paths_under(api, user, "/a") == ["/a/one.txt", "/a/b/two.txt", "/A/b/c/three.txt", "/ab.txt"]
    assert paths_under(api, user, "/") == ["/a/one.txt", "/a/b/two.txt", "/A/b/c/three.txt", "/ab.txt", "/z/a/four.txt"]
    assert paths_under(api, user, "/nothing/") == []
    assert paths_under(api, user, "/a/", nameContains="TW") == ["/a/b/two.txt"]


def test_path_prefix_never_lists_another_accounts_documents(api: Api, user: User, other_user: User) -> None:
    api.submit(other_user, b"hello world", path="/shared/theirs.txt")

    assert paths_under(api, user, "/shared/") == []
    assert paths_under(api, other_user, "/shared/") == ["/shared/theirs.txt"]


def test_a_bad_path_prefix_is_a_bad_user_input_naming_the_field(api: Api, user: User) -> None:
    body = api.call("Documents", {"filter": {"pathPrefix": "a//"}}, user.token)

    assert body["data"] is None
    assert [error["extensions"] for error in body["errors"]] == [
        {
            "code": "BAD_USER_INPUT",
            "fields": [{"field": "filter.pathPrefix", "message": "The path must start with /."}],
        }
    ]


def test_search_refuses_a_path_prefix(api: Api, user: User) -> None:
    body = api.call("Search", {"query": "notes", "filter": {"pathPrefix": "/a/"}}, user.token)

    assert body["data"] is None
    assert body["errors"][0]["extensions"]["fields"] == [
        {"field": "filter.pathPrefix", "message": "Search does not filter by path; list a folder with `documents`."}
    ]
