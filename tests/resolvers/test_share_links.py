"""Share links through the API, over real HTTP against the session's live server: createShareLink,
updateShareLink, revokeShareLink, Document.shareLinks, every refusal (with nothing written), other
accounts' ids (NotFoundError, the table unchanged) and requestUpload's Make Public."""

from __future__ import annotations

import time
from typing import Any

import pytest

from models import documents
from models.share_links import ShareLink
from tests import plain_http
from tests.client import Api, User, post_form
from tests.resolvers import test_multipart as multipart

CONTENT = b"shared notes, eleven"


def rows(owner_id: str) -> list[dict[str, Any]]:
    """Every share link row of the account, as stored (the table, not the API)."""
    return sorted(
        (row.attribute_values for row in ShareLink.query(owner_id, consistent_read=True)),
        key=lambda row: row["link_key"],
    )


def link_count(owner_id: str, document_id: str) -> int:
    return int(documents.get(owner_id, document_id).share_links or 0)


def create(api: Api, user: User, document_id: str, **input: Any) -> dict[str, Any]:
    variables = {"input": {"documentId": document_id, **input}}
    result: dict[str, Any] = api.data("CreateShareLink", variables, user.token)["createShareLink"]
    return result


def update(api: Api, user: User, link_id: str, **input: Any) -> dict[str, Any]:
    result: dict[str, Any] = api.data("UpdateShareLink", {"input": {"id": link_id, **input}}, user.token)[
        "updateShareLink"
    ]
    return result


def revoke(api: Api, user: User, link_id: str) -> dict[str, Any]:
    result: dict[str, Any] = api.data("RevokeShareLink", {"input": {"id": link_id}}, user.token)["revokeShareLink"]
    return result


def plain(link: dict[str, Any]) -> dict[str, Any]:
    """A mutation's answer without its ``__typename``, as a listing shows it."""
    return {key: value for key, value in link.items() if key != "__typename"}


def listed(api: Api, user: User, document_id: str) -> list[dict[str, Any]]:
    links: list[dict[str, Any]] = api.data("DocumentShareLinks", {"id": document_id}, user.token)["document"][
        "shareLinks"
    ]
    return links


@pytest.fixture
def document(api: Api, user: User) -> dict[str, Any]:
    return api.submit(user, CONTENT, filename="notes.txt", contentType="text/plain")


def test_a_link_is_made_listed_and_its_url_serves_the_page(
    api: Api, user: User, document: dict[str, Any], live_url: str
) -> None:
    made = create(api, user, document["id"], expiresInSeconds=3600, maxDownloads=3)

    assert made["__typename"] == "ShareLink"
    assert (made["maxDownloads"], made["downloads"], made["hasPassword"], made["version"], made["active"]) == (
        3,
        0,
        False,
        None,
        True,
    )
    assert made["url"].startswith(f"{live_url}/s/")
    assert listed(api, user, document["id"]) == [plain(made)]
    assert link_count(user.id, document["id"]) == 1
    (row,) = rows(user.id)
    token = made["url"].rsplit("/", 1)[1]
    assert len(token) == 43
    assert token not in str(row)  # only its hash is stored
    page = plain_http.get(made["url"])
    assert page.status_code == 200
    assert "notes.txt" in page.text


def test_update_changes_what_is_given_and_an_empty_password_removes_it(
    api: Api, user: User, document: dict[str, Any]
) -> None:
    made = create(api, user, document["id"], password="open sesame", maxDownloads=2)
    assert made["hasPassword"] is True

    kept = update(api, user, made["id"], maxDownloads=10)
    assert (kept["maxDownloads"], kept["hasPassword"], kept["expiresAt"]) == (10, True, made["expiresAt"])
    longer = update(api, user, made["id"], expiresInSeconds=30 * 86400)
    assert longer["expiresAt"] > made["expiresAt"]
    opened = update(api, user, made["id"], password="")
    assert (opened["hasPassword"], opened["maxDownloads"]) == (False, 10)
    assert opened["url"] == made["url"]


def test_revoke_ends_the_link_frees_its_place_and_a_second_revoke_changes_nothing(
    api: Api, user: User, document: dict[str, Any]
) -> None:
    made = create(api, user, document["id"])

    revoked = revoke(api, user, made["id"])

    assert (revoked["active"], revoked["revokedAt"] is not None) == (False, True)
    assert plain_http.get(made["url"]).status_code == 410
    assert link_count(user.id, document["id"]) == 0
    assert revoke(api, user, made["id"]) == revoked
    refused = update(api, user, made["id"], maxDownloads=5)
    assert (refused["__typename"], refused["fields"]) == (
        "ValidationError",
        [{"field": "id", "message": "The link is revoked and cannot change; make a new one."}],
    )
    assert listed(api, user, document["id"]) == [plain(revoked)]


@pytest.mark.parametrize(
    ("input", "fields"),
    [
        ({"expiresInSeconds": 0}, ["expiresInSeconds"]),
        ({"expiresInSeconds": -5}, ["expiresInSeconds"]),
        ({"expiresInSeconds": 90 * 24 * 3600 + 1}, ["expiresInSeconds"]),
        ({"maxDownloads": 0}, ["maxDownloads"]),
        ({"maxDownloads": -1}, ["maxDownloads"]),
        ({"maxDownloads": 100_001}, ["maxDownloads"]),
        ({"password": "   "}, ["password"]),
        ({"password": "x" * 129}, ["password"]),
        ({"version": 0}, ["version"]),
        ({"version": -2}, ["version"]),
        ({"version": 2}, ["version"]),
        (
            {"expiresInSeconds": -1, "password": "", "maxDownloads": -1},
            ["expiresInSeconds", "password", "maxDownloads"],
        ),
    ],
)
def test_a_refused_create_names_every_field_at_fault_and_writes_nothing(
    api: Api, user: User, document: dict[str, Any], input: dict[str, Any], fields: list[str]
) -> None:
    refused = create(api, user, document["id"], **input)

    assert refused["__typename"] == "ValidationError"
    assert [problem["field"] for problem in refused["fields"]] == fields
    assert rows(user.id) == []
    assert link_count(user.id, document["id"]) == 0


def test_a_refused_update_writes_nothing(api: Api, user: User, document: dict[str, Any]) -> None:
    made = create(api, user, document["id"], maxDownloads=4)
    before = rows(user.id)

    for input, field in (
        ({"expiresInSeconds": 0}, "expiresInSeconds"),
        ({"maxDownloads": -3}, "maxDownloads"),
        ({"maxDownloads": 100_001}, "maxDownloads"),
        ({"password": " "}, "password"),
    ):
        refused = update(api, user, made["id"], **input)
        assert (refused["__typename"], [problem["field"] for problem in refused["fields"]]) == (
            "ValidationError",
            [field],
        )

    assert rows(user.id) == before


def test_a_document_holds_at_most_its_links_and_a_revoke_frees_a_place(
    api: Api, user: User, document: dict[str, Any], settings: Any
) -> None:
    limit = settings.share_links_per_document
    made = [create(api, user, document["id"]) for _ in range(limit)]
    assert {link["__typename"] for link in made} == {"ShareLink"}
    before = rows(user.id)

    refused = create(api, user, document["id"])

    assert (refused["__typename"], [problem["field"] for problem in refused["fields"]]) == (
        "ValidationError",
        ["documentId"],
    )
    assert "DOCSTORE_SHARE_LINKS_PER_DOCUMENT" in refused["message"]
    assert rows(user.id) == before
    assert link_count(user.id, document["id"]) == limit
    revoke(api, user, made[0]["id"])
    assert create(api, user, document["id"])["__typename"] == "ShareLink"
    assert link_count(user.id, document["id"]) == limit


def test_a_link_pins_a_version_the_document_keeps(api: Api, user: User) -> None:
    first = api.upload(user, b"version one", filename="pinned.txt", contentType="text/plain")
    form = api.request_upload(user, size=len(b"version two!"), path="/pinned.txt", mode="OVERWRITE")
    post_form(form, b"version two!")
    api.complete(user, form["documentId"])
    api.settled(user, first["id"])

    pinned = create(api, user, first["id"], version=1)
    current = create(api, user, first["id"])

    assert (pinned["version"], current["version"]) == (1, None)
    assert "11 bytes" in plain_http.get(pinned["url"]).text
    assert "12 bytes" in plain_http.get(current["url"]).text
    download = plain_http.post(pinned["url"])
    assert download.status_code == 303
    assert plain_http.get(download.headers["location"]).content == b"version one"


def test_another_accounts_ids_are_not_found_and_change_nothing(
    api: Api, user: User, other_user: User, document: dict[str, Any]
) -> None:
    made = create(api, user, document["id"], maxDownloads=2)
    before = rows(user.id)

    tried = create(api, other_user, document["id"])
    changed = update(api, other_user, made["id"], maxDownloads=50, password="mine now")
    ended = revoke(api, other_user, made["id"])
    read = api.call("DocumentShareLinks", {"id": document["id"]}, other_user.token)

    assert (tried["__typename"], tried["id"]) == ("NotFoundError", document["id"])
    assert (changed["__typename"], changed["id"]) == ("NotFoundError", made["id"])
    assert (ended["__typename"], ended["id"]) == ("NotFoundError", made["id"])
    assert read["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert rows(user.id) == before
    assert rows(other_user.id) == []
    # Exactly as an id that never existed, or one that cannot be an id:
    unknown = "01ARZ3NDEKTSV4RRFFQ69G5FAV" * 2
    assert revoke(api, other_user, unknown)["message"] == ended["message"]
    assert revoke(api, other_user, "nonsense")["message"] == ended["message"]
    assert create(api, other_user, "nonsense")["message"] == tried["message"]


def test_make_public_makes_a_link_once_the_upload_completes(api: Api, user: User) -> None:
    form = api.request_upload(user, size=len(CONTENT), public=True)
    post_form(form, CONTENT)
    assert rows(user.id) == []  # not before it completes

    completed = api.complete(user, form["documentId"])
    again = api.complete(user, form["documentId"])

    assert again["id"] == completed["id"]
    (link,) = listed(api, user, completed["id"])  # one link, however often completion is repeated
    assert (link["active"], link["maxDownloads"], link["hasPassword"]) == (True, None, False)
    download = plain_http.post(link["url"])
    assert download.status_code == 303
    assert plain_http.get(download.headers["location"]).content == CONTENT


def test_make_public_on_a_refused_upload_makes_no_link(api: Api, user: User) -> None:
    form = api.request_upload(user, size=len(CONTENT), public=True)  # and nothing posted

    refused = api.call("CompleteUpload", {"input": {"documentId": form["documentId"]}}, user.token)

    assert refused["data"]["completeUpload"]["__typename"] == "UploadRejectedError"
    assert rows(user.id) == []


def test_make_public_without_the_box_makes_no_link(api: Api, user: User) -> None:
    document = api.submit(user, CONTENT)

    assert listed(api, user, document["id"]) == []
    assert rows(user.id) == []


def test_a_public_upload_the_pipeline_refuses_loses_its_link(api: Api, user: User) -> None:
    program = b"\x7fELF\x02\x01\x01" + bytes(200)  # a type DocStore stores none of
    form = api.request_upload(user, size=len(program), filename="notes.txt", contentType="text/plain", public=True)
    post_form(form, program)
    completed = api.complete(user, form["documentId"])
    (link,) = listed(api, user, completed["id"])

    assert api.settled(user, completed["id"])["status"] == "REJECTED"  # WRONG_TYPE

    # The pipeline deletes the links after its rejection commits, with the bytes: wait for that.
    deadline = time.monotonic() + 30
    while rows(user.id) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert rows(user.id) == []
    assert plain_http.get(link["url"]).status_code == 404


def test_make_public_on_a_multipart_upload_makes_its_link_at_completion(api: Api, user: User) -> None:
    started = multipart.start(api, user, size=len(CONTENT), public=True)
    (part,) = multipart.sign(api, user, started["documentId"], [1])["parts"]
    etag = multipart.put(part["url"], CONTENT)
    assert rows(user.id) == []

    completed = multipart.complete(api, user, started["documentId"], [{"number": 1, "etag": etag}])

    (link,) = listed(api, user, completed["id"])
    download = plain_http.post(link["url"])
    assert download.status_code == 303
    assert plain_http.get(download.headers["location"]).content == CONTENT


def test_make_public_on_an_aborted_multipart_upload_makes_no_link(api: Api, user: User) -> None:
    started = multipart.start(api, user, size=len(CONTENT), public=True)

    assert multipart.abort(api, user, started["documentId"])["__typename"] == "AbortedUpload"

    assert rows(user.id) == []
