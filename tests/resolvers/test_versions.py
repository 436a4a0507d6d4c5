"""Versions through the API, over real HTTP against the session's live server (a real uvicorn with
its pipeline and search index): requestUpload(mode), Document.version and versions, restoreVersion."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from tests import plain_http
from tests.client import Api, User, post_form
from tests.conftest import LiveServer, objects_under
from tests.resolvers.test_paths import claims_of

NOT_FOUND = "No document with that id in this account."


def text_file(word: str, kilobytes: int) -> bytes:
    """A real text file of several KB whose one rare word search can find."""
    line = f"Quarterly notes about {word} and nothing else of interest.\n".encode()
    return line * (kilobytes * 1024 // len(line))


def new_version(api: Api, user: User, content: bytes, **input: Any) -> dict[str, Any]:
    """An OVERWRITE upload of ``content`` to /notes.txt: completeUpload's answer."""
    form = api.request_upload(user, size=len(content), path="/notes.txt", **{"mode": "OVERWRITE", **input})
    assert form["__typename"] == "UploadForm", form
    post_form(form, content)
    return api.complete(user, form["documentId"])


def history(api: Api, user: User, document_id: str, **variables: Any) -> dict[str, Any]:
    document: dict[str, Any] = api.data("DocumentVersions", {"id": document_id, **variables}, user.token)["document"]
    return document


def restore(api: Api, user: User, document_id: str, version: int) -> dict[str, Any]:
    variables = {"input": {"documentId": document_id, "version": version}}
    result: dict[str, Any] = api.data("RestoreVersion", variables, user.token)["restoreVersion"]
    return result


def found(api: Api, user: User, query: str) -> list[str]:
    result = api.data("Search", {"query": query}, user.token)["search"]
    return [edge["node"]["document"]["id"] for edge in result["edges"]]


def download(url: str) -> bytes:
    response = plain_http.get(url)
    assert response.status_code == 200
    return response.content


def test_two_versions_serve_and_search_the_current_one_and_restore_brings_the_first_back(api: Api) -> None:
    user = api.sign_up(plan="PREMIUM")
    one, two = text_file("aardvarks", 8), text_file("zeppelins", 12)
    first = api.upload(user, one, filename="notes.txt", contentType="text/plain")
    assert first["status"] == "READY"

    completed = new_version(api, user, two, filename="notes.txt", contentType="text/plain")

    assert (completed["__typename"], completed["id"], completed["status"]) == ("Document", first["id"], "PROCESSING")
    assert api.settled(user, first["id"])["status"] == "READY"
    listed = history(api, user, first["id"])
    assert listed["version"] == 2
    versions = [edge["node"] for edge in listed["versions"]["edges"]]
    assert [(v["version"], v["size"], v["current"]) for v in versions] == [(2, len(two), True), (1, len(one), False)]
    assert all(v["contentHash"] and len(v["contentHash"]) == 64 for v in versions)
    assert [download(v["downloadUrl"]) for v in versions] == [two, one]
    assert download(api.data("Document", {"id": first["id"]}, user.token)["document"]["downloadUrl"]) == two
    assert (found(api, user, "zeppelins"), found(api, user, "aardvarks")) == ([first["id"]], [])
    assert api.usage(user)["usedBytes"] == len(one) + len(two)
    assert api.data("Me", token=user.token)["me"]["usage"]["documentCount"] == 1
    assert claims_of(user.id) == {"/notes.txt": first["id"]}

    restored = restore(api, user, first["id"], 1)

    assert (restored["__typename"], restored["version"], restored["size"]) == ("Document", 3, len(one))
    assert api.settled(user, first["id"])["status"] == "READY"
    assert (found(api, user, "aardvarks"), found(api, user, "zeppelins")) == ([first["id"]], [])
    after = [edge["node"] for edge in history(api, user, first["id"])["versions"]["edges"]]
    assert [(v["version"], v["current"]) for v in after] == [(3, True), (2, False), (1, False)]
    assert download(after[0]["downloadUrl"]) == one
    assert api.usage(user)["usedBytes"] == 2 * len(one) + len(two)


def test_versions_pages_newest_first_with_cursors(api: Api) -> None:
    user = api.sign_up()
    first = api.upload(user, b"one", filename="notes.txt", contentType="text/plain")
    for content in (b"two!", b"three"):
        assert (
            new_version(api, user, content, filename="notes.txt", contentType="text/plain")["__typename"] == "Document"
        )
        api.settled(user, first["id"])

    page = history(api, user, first["id"], first=2)["versions"]
    rest = history(api, user, first["id"], first=2, after=page["pageInfo"]["endCursor"])["versions"]

    assert [edge["node"]["version"] for edge in page["edges"]] == [3, 2]
    assert page["pageInfo"]["hasNextPage"] is True
    assert [edge["node"]["version"] for edge in rest["edges"]] == [1]
    assert rest["pageInfo"]["hasNextPage"] is False


def test_bad_versions_arguments_answer_bad_user_input(api: Api) -> None:
    user = api.sign_up()
    first = api.upload(user, b"one", filename="notes.txt", contentType="text/plain")

    body = api.call("DocumentVersions", {"id": first["id"], "first": 0, "after": "nonsense"}, user.token)

    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert body["errors"][0]["extensions"]["fields"] == [
        {"field": "first", "message": "`first` must be between 1 and 100."},
        {"field": "after", "message": "The cursor is not one this API gave out for this document."},
    ]


def test_update_with_a_stale_version_or_to_a_free_path_is_a_conflict_and_reserves_nothing(api: Api) -> None:
    user = api.sign_up()
    first = api.upload(user, b"one", filename="notes.txt", contentType="text/plain")
    new_version(api, user, b"two!", filename="notes.txt", contentType="text/plain")
    api.settled(user, first["id"])
    before = api.usage(user)

    stale = api.request_upload(user, size=5, path="/notes.txt", mode="UPDATE", ifVersion=1)
    free = api.request_upload(user, size=5, path="/other.txt", mode="UPDATE", ifVersion=1)
    missing = api.request_upload(user, size=5, path="/notes.txt", mode="UPDATE")

    assert stale == {
        "__typename": "VersionConflictError",
        "message": "The document is at version 2 now, not the version named.",
        "currentVersion": 2,
    }
    assert free == {
        "__typename": "VersionConflictError",
        "message": "There is no document at that path to update.",
        "currentVersion": None,
    }
    assert missing["__typename"] == "ValidationError"
    assert missing["fields"] == [
        {"field": "ifVersion", "message": "UPDATE needs the version the document must still be at."}
    ]
    assert api.usage(user) == before
    assert claims_of(user.id) == {"/notes.txt": first["id"]}


def test_update_at_the_current_version_adds_one(api: Api) -> None:
    user = api.sign_up()
    first = api.upload(user, b"one", filename="notes.txt", contentType="text/plain")

    completed = new_version(
        api, user, b"two!", filename="notes.txt", contentType="text/plain", mode="UPDATE", ifVersion=1
    )

    assert (completed["__typename"], completed["id"]) == ("Document", first["id"])
    api.settled(user, first["id"])
    assert history(api, user, first["id"])["version"] == 2


def test_restore_and_versions_of_another_accounts_document_answer_not_found_and_change_nothing(api: Api) -> None:
    owner, other = api.sign_up(), api.sign_up()
    first = api.upload(owner, b"one", filename="notes.txt", contentType="text/plain")
    new_version(api, owner, b"two!", filename="notes.txt", contentType="text/plain")
    api.settled(owner, first["id"])

    refused = restore(api, other, first["id"], 1)

    assert refused == {"__typename": "NotFoundError", "message": NOT_FOUND, "id": first["id"]}
    body = api.call("DocumentVersions", {"id": first["id"]}, other.token)
    assert (body["data"], [error["extensions"]["code"] for error in body["errors"]]) == (None, ["NOT_FOUND"])
    assert restore(api, other, "01ARZ3NDEKTSV4RRFFQ69G5FAV", 1)["__typename"] == "NotFoundError"
    assert history(api, owner, first["id"])["version"] == 2
    assert api.usage(owner)["usedBytes"] == 7
    assert api.usage(other)["usedBytes"] == 0


def test_restore_of_a_version_not_kept_answers_version_not_found(api: Api) -> None:
    user = api.sign_up()
    first = api.upload(user, b"one", filename="notes.txt", contentType="text/plain")

    refused = restore(api, user, first["id"], 5)

    assert refused["__typename"] == "VersionNotFoundError"
    assert refused["version"] == 5
    assert history(api, user, first["id"])["version"] == 1
    assert api.usage(user)["usedBytes"] == 3


def test_a_multipart_upload_in_mode_overwrite_adds_a_version_and_a_delete_frees_every_version(api: Api, store) -> None:
    from tests.conftest import objects_under
    from tests.resolvers.test_multipart import complete, open_uploads, put, sign, start

    user = api.sign_up()
    first = api.upload(user, b"one", filename="notes.txt", contentType="text/plain")
    content = b"a second version, sent in one part\n"
    started = start(api, user, size=len(content), path="/notes.txt", mode="OVERWRITE")
    (part,) = sign(api, user, started["documentId"], [1])["parts"]
    etag = put(part["url"], content)

    completed = complete(api, user, started["documentId"], [{"number": 1, "etag": etag}])

    assert (completed["__typename"], completed["id"]) == ("Document", first["id"])
    assert download(api.settled(user, first["id"])["downloadUrl"]) == content
    assert [edge["node"]["version"] for edge in history(api, user, first["id"])["versions"]["edges"]] == [2, 1]
    assert api.usage(user)["usedBytes"] == 3 + len(content)

    deleted = api.data("DeleteDocument", {"input": {"id": first["id"]}}, user.token)["deleteDocument"]

    assert deleted["freedBytes"] == 3 + len(content)
    assert api.usage(user) == {"usedBytes": 0, "reservedBytes": 0, "limitBytes": 5 * 1024**3, "documentCount": 0}
    assert objects_under(store, user.id) == []
    assert open_uploads(store, user) == []


def delete(api: Api, user: User, document_id: str, **input: Any) -> dict[str, Any]:
    result: dict[str, Any] = api.data("DeleteDocument", {"input": {"id": document_id, **input}}, user.token)
    return result["deleteDocument"]


def test_delete_if_version_deletes_only_the_version_named_and_refuses_a_stale_one(api: Api) -> None:
    user = api.sign_up()
    first = api.upload(user, b"one", filename="notes.txt", contentType="text/plain")
    new_version(api, user, b"two!", filename="notes.txt", contentType="text/plain")
    api.settled(user, first["id"])
    before = api.usage(user)

    stale = delete(api, user, first["id"], ifVersion=1)
    zero = delete(api, user, first["id"], ifVersion=0)

    assert stale == {
        "__typename": "VersionConflictError",
        "message": "The document is at version 2 now, not the version named.",
        "currentVersion": 2,
    }
    assert zero == {
        "__typename": "ValidationError",
        "message": "Versions start at 1.",
        "fields": [{"field": "ifVersion", "message": "Versions start at 1."}],
    }
    assert api.usage(user) == before
    assert history(api, user, first["id"])["version"] == 2
    assert claims_of(user.id) == {"/notes.txt": first["id"]}

    deleted = delete(api, user, first["id"], ifVersion=2)

    assert deleted == {"__typename": "DeleteDocumentPayload", "id": first["id"], "freedBytes": 7}
    assert claims_of(user.id) == {}


@pytest.fixture(scope="module")
def retaining(settings: Any, target: Any, live_server: LiveServer) -> Iterator[Api]:
    """A second uvicorn on the session's AWS whose plans keep few versions (DOCSTORE_VERSIONS_FREE 2,
    DOCSTORE_VERSIONS_PREMIUM 3). The retention is the API's to apply (at the request and the
    completion); the session's server runs the workers, so that stopping this one takes no message
    from them halfway."""
    server = LiveServer(dataclasses.replace(settings, versions_free=2, versions_premium=3, run_workers=False))
    server.start()
    yield Api(server.url)
    server.stop()


def kept(api: Api, store: Any, user: User, document_id: str) -> tuple[list[tuple[int, bytes]], int, int]:
    """The versions listed (number, downloaded bytes), the originals in S3, and the bytes used."""
    edges = history(api, user, document_id)["versions"]["edges"]
    listed = [(edge["node"]["version"], download(edge["node"]["downloadUrl"])) for edge in edges]
    originals = [item for item in objects_under(store, user.id) if item["Key"].endswith("/original")]
    return listed, len(originals), api.usage(user)["usedBytes"]


def test_each_plan_keeps_the_versions_its_setting_says_and_frees_the_oldest(retaining: Api, store: Any) -> None:
    """FREE keeps 2 here, PREMIUM 3, whichever way a version comes: an OVERWRITE form, a multipart
    upload in mode OVERWRITE, or restoreVersion. The version past it is deleted, object and bytes."""
    from tests.resolvers.test_multipart import complete, put, sign, start

    one, two, three, four = b"one\n" * 10, b"two\n" * 20, b"three\n" * 30, b"four\n" * 40

    def by_form(user: User, document_id: str, content: bytes) -> None:
        completed = new_version(retaining, user, content, filename="notes.txt", contentType="text/plain")
        assert completed["id"] == document_id
        assert retaining.settled(user, document_id)["status"] == "READY"

    def by_parts(user: User, document_id: str, content: bytes) -> None:
        started = start(retaining, user, size=len(content), path="/notes.txt", mode="OVERWRITE")
        (part,) = sign(retaining, user, started["documentId"], [1])["parts"]
        completed = complete(retaining, user, started["documentId"], [{"number": 1, "etag": put(part["url"], content)}])
        assert (completed["__typename"], completed["id"]) == ("Document", document_id)
        assert retaining.settled(user, document_id)["status"] == "READY"

    def by_restore(user: User, document_id: str, version: int) -> None:
        assert restore(retaining, user, document_id, version)["__typename"] == "Document"
        assert retaining.settled(user, document_id)["status"] == "READY"

    free, premium = retaining.sign_up(), retaining.sign_up(plan="PREMIUM")
    ours = retaining.upload(free, one, filename="notes.txt", contentType="text/plain")["id"]
    by_form(free, ours, two)
    assert kept(retaining, store, free, ours) == ([(2, two), (1, one)], 2, len(one) + len(two))
    by_parts(free, ours, three)
    assert kept(retaining, store, free, ours) == ([(3, three), (2, two)], 2, len(two) + len(three))
    by_restore(free, ours, 2)
    assert kept(retaining, store, free, ours) == ([(4, two), (3, three)], 2, len(three) + len(two))
    by_form(free, ours, four)
    assert kept(retaining, store, free, ours) == ([(5, four), (4, two)], 2, len(two) + len(four))

    theirs = retaining.upload(premium, one, filename="notes.txt", contentType="text/plain")["id"]
    by_form(premium, theirs, two)
    by_form(premium, theirs, three)
    assert kept(retaining, store, premium, theirs) == (
        [(3, three), (2, two), (1, one)],
        3,
        len(one) + len(two) + len(three),
    )
    by_form(premium, theirs, four)
    assert kept(retaining, store, premium, theirs) == (
        [(4, four), (3, three), (2, two)],
        3,
        len(two) + len(three) + len(four),
    )
    by_restore(premium, theirs, 2)
    assert kept(retaining, store, premium, theirs) == (
        [(5, two), (4, four), (3, three)],
        3,
        len(three) + len(four) + len(two),
    )
    by_parts(premium, theirs, one)
    assert kept(retaining, store, premium, theirs) == (
        [(6, one), (5, two), (4, four)],
        3,
        len(four) + len(two) + len(one),
    )
    assert [retaining.usage(user)["documentCount"] for user in (free, premium)] == [1, 1]
