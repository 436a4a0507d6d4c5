"""Sharing documents with other accounts, through the API over real HTTP against the session's live
server: shareDocument, unshareDocument, sharedWithMe, Document.shares and Document.access, what each
role may do, and every refusal with nothing written."""

from __future__ import annotations

from typing import Any

import pytest

from models import documents
from models.shares import Share
from tests import plain_http
from tests.client import Api, User, error_codes, post_form
from tests.conftest import objects_under

CONTENT = b"shared notes, eleven"
FORBIDDEN_EDIT = "This document is shared with you as VIEWER: only its owner or an EDITOR may change it."
FORBIDDEN_OWNER = "Only the document's owner may do this; it is shared with you."
NO_DOCUMENT = "No document with that id in this account."


def rows(grantee_id: str) -> list[dict[str, Any]]:
    """Every share with the account, as stored (the table, not the API)."""
    return [row.attribute_values for row in Share.query(grantee_id, consistent_read=True)]


def share_call(api: Api, owner: User, document_id: str, email: str, role: str = "VIEWER") -> dict[str, Any]:
    variables = {"input": {"documentId": document_id, "email": email, "role": role}}
    result: dict[str, Any] = api.data("ShareDocument", variables, owner.token)["shareDocument"]
    return result


def unshare(api: Api, user: User, share_id: str) -> dict[str, Any]:
    result: dict[str, Any] = api.data("UnshareDocument", {"input": {"shareId": share_id}}, user.token)[
        "unshareDocument"
    ]
    return result


def shared_ids(api: Api, user: User, **variables: Any) -> list[str]:
    connection = api.data("SharedWithMe", {"first": 100, **variables}, user.token)["sharedWithMe"]
    return [edge["node"]["id"] for edge in connection["edges"]]


def stored(owner: User, document_id: str) -> dict[str, Any]:
    """The document's record as stored (signed URLs in an answer change with every call)."""
    return dict(documents.get(owner.id, document_id).attribute_values)


def read(api: Api, user: User, document_id: str) -> dict[str, Any]:
    return api.call("Document", {"id": document_id}, user.token)


def rename(api: Api, user: User, document_id: str, **changes: Any) -> dict[str, Any]:
    return api.call("UpdateDocument", {"input": {"id": document_id, **changes}}, user.token)


@pytest.fixture
def owner(api: Api) -> User:
    return api.sign_up()


@pytest.fixture
def grantee(api: Api) -> User:
    return api.sign_up()


@pytest.fixture
def document(api: Api, owner: User) -> dict[str, Any]:
    return api.upload(owner, CONTENT, filename="notes.txt", contentType="text/plain", tags=["team"])


def test_share_gives_the_grantee_the_document_and_lists_it_both_ways(
    api: Api, owner: User, grantee: User, document: dict[str, Any]
) -> None:
    shared = share_call(api, owner, document["id"], grantee.email, "VIEWER")

    assert shared == {
        "__typename": "Share",
        "id": document["id"] + grantee.id,
        "documentId": document["id"],
        "role": "VIEWER",
        "email": grantee.email,
        "ownerEmail": owner.email,
    }
    seen = read(api, grantee, document["id"])["data"]["document"]
    assert (seen["id"], seen["name"], seen["status"]) == (document["id"], "notes.txt", "READY")
    assert seen["downloadUrl"] is not None
    assert shared_ids(api, grantee) == [document["id"]]
    as_owner = api.data("DocumentShares", {"id": document["id"]}, owner.token)["document"]
    assert as_owner == {
        "id": document["id"],
        "access": "OWNER",
        "shares": [{key: value for key, value in shared.items() if key != "__typename"}],
    }
    as_grantee = api.data("DocumentShares", {"id": document["id"]}, grantee.token)["document"]
    assert as_grantee == {"id": document["id"], "access": "VIEWER", "shares": []}


def test_sharing_again_changes_the_role_and_keeps_one_share(
    api: Api, owner: User, grantee: User, document: dict[str, Any]
) -> None:
    share_call(api, owner, document["id"], grantee.email, "VIEWER")
    first = rows(grantee.id)

    again = share_call(api, owner, document["id"], grantee.email.upper(), "EDITOR")

    assert again["role"] == "EDITOR"
    (row,) = rows(grantee.id)
    assert row["role"] == "EDITOR"
    assert row["created_at"] == first[0]["created_at"]


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("nobody-at-all@example.com", "No account has this email."),
        ("not an email", None),
        ("OWNER", "You own this document: share it with another account."),
    ],
)
def test_share_refusals_on_email_write_nothing(
    api: Api, owner: User, grantee: User, document: dict[str, Any], email: str, message: str | None
) -> None:
    email = owner.email if email == "OWNER" else email

    answer = share_call(api, owner, document["id"], email)

    assert answer["__typename"] == "ValidationError"
    assert [field["field"] for field in answer["fields"]] == ["email"]
    if message is not None:
        assert answer["fields"][0]["message"] == message
    assert rows(owner.id) == []
    assert rows(grantee.id) == []


def test_sharing_an_account_of_another_region_is_refused(api: Api, owner: User, document: dict[str, Any]) -> None:
    from models.accounts import Account

    elsewhere = api.sign_up()
    Account(id=elsewhere.id).update(actions=[Account.home_region.set("eu-elsewhere-1")])

    answer = share_call(api, owner, document["id"], elsewhere.email)

    assert answer["fields"] == [
        {
            "field": "email",
            "message": "That account lives in another region: documents are shared within a region only.",
        }
    ]
    assert rows(elsewhere.id) == []


def test_only_the_owner_shares(api: Api, owner: User, grantee: User, document: dict[str, Any]) -> None:
    third = api.sign_up()
    stranger = api.sign_up()
    share_call(api, owner, document["id"], grantee.email, "EDITOR")

    by_editor = api.call(
        "ShareDocument",
        {"input": {"documentId": document["id"], "email": third.email, "role": "VIEWER"}},
        grantee.token,
    )
    by_stranger = share_call(api, stranger, document["id"], third.email)

    assert by_editor["data"] is None
    assert error_codes(by_editor) == ["FORBIDDEN"]
    assert by_editor["errors"][0]["message"] == FORBIDDEN_OWNER
    assert by_stranger == {
        "__typename": "NotFoundError",
        "message": "No stored document with that id in this account.",
        "id": document["id"],
    }
    assert rows(third.id) == []


def test_a_document_in_progress_cannot_be_shared(api: Api, owner: User, grantee: User) -> None:
    form = api.request_upload(owner, size=len(CONTENT))

    answer = share_call(api, owner, form["documentId"], grantee.email)

    assert answer["__typename"] == "NotFoundError"
    assert rows(grantee.id) == []


def test_viewer_reads_but_cannot_change(api: Api, owner: User, grantee: User, document: dict[str, Any]) -> None:
    share_call(api, owner, document["id"], grantee.email, "VIEWER")
    before = stored(owner, document["id"])

    renamed = rename(api, grantee, document["id"], name="mine.txt")

    assert renamed["data"] is None
    assert error_codes(renamed) == ["FORBIDDEN"]
    assert renamed["errors"][0]["message"] == FORBIDDEN_EDIT
    assert stored(owner, document["id"]) == before


def test_editor_renames_and_retags_but_may_not_move_delete_restore_or_link(
    api: Api, owner: User, grantee: User, document: dict[str, Any]
) -> None:
    share_call(api, owner, document["id"], grantee.email, "EDITOR")

    renamed = rename(api, grantee, document["id"], name="edited.txt", tags=["edited"])

    assert renamed["data"]["updateDocument"]["name"] == "edited.txt"
    assert renamed["data"]["updateDocument"]["tags"] == ["edited"]
    assert read(api, owner, document["id"])["data"]["document"]["name"] == "edited.txt"
    before = stored(owner, document["id"])
    for name, variables in [
        ("MoveDocument", {"input": {"documentId": document["id"], "path": "/taken.txt"}}),
        ("DeleteDocument", {"input": {"id": document["id"]}}),
        ("RestoreVersion", {"input": {"documentId": document["id"], "version": 1}}),
        ("CreateShareLink", {"input": {"documentId": document["id"]}}),
    ]:
        body = api.call(name, variables, grantee.token)
        assert body["data"] is None, name
        assert error_codes(body) == ["FORBIDDEN"], name
        assert body["errors"][0]["message"] == FORBIDDEN_OWNER
    assert stored(owner, document["id"]) == before
    assert api.data("DocumentShareLinks", {"id": document["id"]}, owner.token)["document"]["shareLinks"] == []


def test_unshare_ends_access_at_once(api: Api, owner: User, grantee: User, document: dict[str, Any]) -> None:
    shared = share_call(api, owner, document["id"], grantee.email, "EDITOR")

    removed = unshare(api, owner, shared["id"])

    assert removed["id"] == shared["id"]
    body = read(api, grantee, document["id"])
    assert body["data"] is None
    assert error_codes(body) == ["NOT_FOUND"]
    renamed = rename(api, grantee, document["id"], name="late.txt")
    assert renamed["data"]["updateDocument"] == {
        "__typename": "NotFoundError",
        "message": NO_DOCUMENT,
        "id": document["id"],
    }
    assert shared_ids(api, grantee) == []
    assert rows(grantee.id) == []
    assert unshare(api, owner, shared["id"])["__typename"] == "NotFoundError"


def test_grantee_may_leave_and_a_stranger_may_not_unshare(
    api: Api, owner: User, grantee: User, document: dict[str, Any]
) -> None:
    stranger = api.sign_up()
    shared = share_call(api, owner, document["id"], grantee.email)

    refused = unshare(api, stranger, shared["id"])
    assert refused == {
        "__typename": "NotFoundError",
        "message": "No share with that id of your documents or with you.",
        "id": shared["id"],
    }
    assert len(rows(grantee.id)) == 1

    assert unshare(api, grantee, shared["id"])["id"] == shared["id"]
    assert rows(grantee.id) == []


def test_deleted_document_is_not_found_and_leaves_shared_with_me(
    api: Api, owner: User, grantee: User, document: dict[str, Any]
) -> None:
    share_call(api, owner, document["id"], grantee.email)

    api.data("DeleteDocument", {"input": {"id": document["id"]}}, owner.token)

    body = read(api, grantee, document["id"])
    assert error_codes(body) == ["NOT_FOUND"]
    assert shared_ids(api, grantee) == []
    assert share_call(api, owner, document["id"], grantee.email)["__typename"] == "NotFoundError"


def test_shared_with_me_pages_newest_first(api: Api, grantee: User) -> None:
    owners = [api.sign_up(), api.sign_up()]
    ids = []
    for number in range(5):
        owner = owners[number % 2]
        made = api.submit(owner, CONTENT, filename=f"n{number}.txt", contentType="text/plain")
        api.share(owner, made["id"], grantee)
        ids.append(made["id"])

    seen: list[str] = []
    after = None
    pages = []
    while True:
        connection = api.data("SharedWithMe", {"first": 2, "after": after}, grantee.token)["sharedWithMe"]
        seen += [edge["node"]["id"] for edge in connection["edges"]]
        pages.append((len(connection["edges"]), connection["pageInfo"]["hasNextPage"]))
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]

    assert seen == list(reversed(ids))
    assert pages == [(2, True), (2, True), (1, False)]
    first = api.data("SharedWithMe", {"first": 1}, grantee.token)["sharedWithMe"]["edges"][0]
    assert (first["node"]["access"], first["share"]["role"]) == ("VIEWER", "VIEWER")


@pytest.mark.parametrize("after", ["bogus", "WyJ4Il0"])
def test_shared_with_me_refuses_bad_arguments(api: Api, grantee: User, after: str) -> None:
    body = api.call("SharedWithMe", {"first": 0, "after": after}, grantee.token)

    assert body["data"] is None
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert [field["field"] for field in body["errors"][0]["extensions"]["fields"]] == ["first", "after"]


# --- an EDITOR's new version: the owner's quota -----------------------------------------------

VERSION = b"the second version of the shared notes"


def version_form(api: Api, user: User, document_id: str, **input: Any) -> dict[str, Any]:
    fields = {"filename": "notes.txt", "contentType": "text/plain", "size": len(VERSION), "documentId": document_id}
    result: dict[str, Any] = api.data("RequestUpload", {"input": {**fields, **input}}, user.token)["requestUpload"]
    return result


def test_editor_uploads_a_version_on_the_owners_quota(
    api: Api, store: Any, owner: User, grantee: User, document: dict[str, Any]
) -> None:
    api.share(owner, document["id"], grantee, "EDITOR")
    owner_before, editor_before = api.usage(owner), api.usage(grantee)

    form = version_form(api, grantee, document["id"])

    assert form["__typename"] == "UploadForm"
    assert api.usage(owner)["reservedBytes"] == owner_before["reservedBytes"] + len(VERSION)
    assert api.usage(grantee) == editor_before
    assert objects_under(store, grantee.id) == []  # the staging key is the owner's
    post_form(form, VERSION)
    completed = api.complete(grantee, form["documentId"])
    assert (completed["__typename"], completed["id"], completed["status"]) == ("Document", document["id"], "PROCESSING")
    settled = api.settled(owner, document["id"])
    assert (settled["version"], settled["size"]) == (2, len(VERSION))
    owner_after = api.usage(owner)
    assert owner_after["usedBytes"] == owner_before["usedBytes"] + len(VERSION)
    assert owner_after["reservedBytes"] == owner_before["reservedBytes"]
    assert api.usage(grantee) == editor_before
    assert objects_under(store, grantee.id) == []


def test_a_viewer_cannot_upload_a_version_and_nothing_is_reserved(
    api: Api, owner: User, grantee: User, document: dict[str, Any]
) -> None:
    api.share(owner, document["id"], grantee, "VIEWER")
    before = api.usage(owner)

    body = api.call(
        "RequestUpload",
        {"input": {"filename": "n.txt", "contentType": "text/plain", "size": 5, "documentId": document["id"]}},
        grantee.token,
    )

    assert body["data"] is None
    assert error_codes(body) == ["FORBIDDEN"]
    assert body["errors"][0]["message"] == FORBIDDEN_EDIT
    assert api.usage(owner) == before


def test_a_stranger_cannot_upload_a_version(api: Api, owner: User, document: dict[str, Any]) -> None:
    stranger = api.sign_up()
    before = api.usage(owner)

    answer = version_form(api, stranger, document["id"])

    assert answer == {"__typename": "NotFoundError", "message": NO_DOCUMENT, "id": document["id"]}
    assert api.usage(owner) == before
    assert api.usage(stranger)["reservedBytes"] == 0


def test_an_editor_unshared_before_completing_cannot_complete(
    api: Api, owner: User, grantee: User, document: dict[str, Any]
) -> None:
    share = api.share(owner, document["id"], grantee, "EDITOR")
    form = version_form(api, grantee, document["id"])
    post_form(form, VERSION)
    api.data("UnshareDocument", {"input": {"shareId": share["id"]}}, owner.token)

    answer = api.data("CompleteUpload", {"input": {"documentId": form["documentId"]}}, grantee.token)

    assert answer["completeUpload"]["__typename"] == "UploadNotFoundError"
    assert documents.get(owner.id, document["id"]).current_version == 1


def test_a_viewer_lists_and_downloads_every_version_kept(
    api: Api, owner: User, grantee: User, document: dict[str, Any]
) -> None:
    form = api.request_upload(owner, size=len(VERSION), path="/notes.txt", mode="OVERWRITE")
    post_form(form, VERSION)
    api.complete(owner, form["documentId"])
    assert api.settled(owner, document["id"])["version"] == 2
    api.share(owner, document["id"], grantee, "VIEWER")

    listed = api.data("DocumentVersions", {"id": document["id"]}, grantee.token)["document"]

    assert [(edge["node"]["version"], edge["node"]["current"]) for edge in listed["versions"]["edges"]] == [
        (2, True),
        (1, False),
    ]
    contents = [plain_http.get(edge["node"]["downloadUrl"]).content for edge in listed["versions"]["edges"]]
    assert contents == [VERSION, CONTENT]
    stranger = api.sign_up()
    assert error_codes(api.call("DocumentVersions", {"id": document["id"]}, stranger.token)) == ["NOT_FOUND"]


def test_an_upload_in_progress_takes_no_version(api: Api, owner: User, document: dict[str, Any]) -> None:
    upload = api.request_upload(owner, size=len(VERSION), path="/notes.txt", mode="OVERWRITE")
    before = api.usage(owner)

    answer = version_form(api, owner, upload["documentId"])

    assert answer == {"__typename": "NotFoundError", "message": NO_DOCUMENT, "id": upload["documentId"]}
    assert api.usage(owner) == before
