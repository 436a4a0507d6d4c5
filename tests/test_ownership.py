"""Accounts are walled off: another account's document is NOT_FOUND everywhere, and changes nothing.

Every field that takes a document id is tried with the id of a document someone else owns, with
a made-up id and with malformed ones; every field that needs a token is tried without a working
one. After each attempt both accounts' records, usage, shares and S3 objects are compared whole.
A document shared with an account opens that document to it and nothing else of its owner's: a
grantee tries every field on the owner's other documents and uploads, and a removed share is
tried again at once.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from ulid import ULID

from domain import content_hash
from models.paths import PathClaim
from models.shares import Share
from models.version_rows import Version
from tests import plain_http
from tests.client import PASSWORD, Api, User, error_codes, post_form
from tests.conftest import documents_of, objects_under
from tests.resolvers import test_multipart as multipart

NOT_FOUND = "No document with that id in this account."
NO_UPLOAD = "No upload with that id in this account."
NOT_STORED = "No stored document with that id in this account."
#: Whom a foreign document is offered to: an account that exists (the stranger's neighbour).
EMAIL = "grantee-of-nothing@example.com"
SIGN_IN_FIRST = "Sign in first: send `Authorization: Bearer <token>`."
PLAN = b"%PDF-1.4\nthe owner's plan\n" + bytes(range(256))
DRAFT = b"%PDF-1.4\nthe owner's draft, posted but not completed\n"
RECIPE = b"%PDF-1.4\nthe stranger's own recipe\n"
ORDERS = [(field, direction) for field in ("CREATED_AT", "UPDATED_AT", "NAME") for direction in ("ASC", "DESC")]


@dataclass
class Holdings:
    """What the owner has: a READY document, an upload whose file arrived but is not completed, and
    an upload of a new version of the READY one (mode OVERWRITE), posted and not completed."""

    ready_id: str
    pending_id: str
    version_id: str

    def id(self, which: str) -> str:
        return {"ready": self.ready_id, "pending": self.pending_id, "version": self.version_id}[which]


@pytest.fixture
def owner(api: Api) -> User:
    return api.sign_up()


@pytest.fixture
def stranger(api: Api) -> User:
    return api.sign_up()


def hold(api: Api, owner: User) -> Holdings:
    ready = api.upload(
        owner,
        PLAN,
        filename="secret-plan.pdf",
        contentType="application/pdf",
        tags=["confidential"],
        description="Owner only",
    )
    form = api.request_upload(
        owner, filename="secret-draft.pdf", contentType="application/pdf", size=len(DRAFT), tags=["confidential"]
    )
    post_form(form, DRAFT)
    version = api.request_upload(
        owner,
        filename="secret-plan.pdf",
        contentType="application/pdf",
        size=len(DRAFT),
        path="/secret-plan.pdf",
        mode="OVERWRITE",
    )
    post_form(version, DRAFT)
    return Holdings(ready_id=ready["id"], pending_id=form["documentId"], version_id=version["documentId"])


@pytest.fixture
def holdings(api: Api, owner: User) -> Holdings:
    return hold(api, owner)


@dataclass
class Neighbours:
    """For read-only tests: an owner with holdings, then a stranger with a document of their own
    made after the owner's and matching the same filters."""

    owner: User
    holdings: Holdings
    stranger: User
    recipe_id: str


@pytest.fixture(scope="module")
def neighbours(api: Api) -> Neighbours:
    return make_neighbours(api)


@pytest.fixture
def fresh_neighbours(api: Api) -> Neighbours:
    """Neighbours made for one test: their uploads' forms, posted and never completed, are still
    open while it runs (the module's may have expired, and the workers completed them, since)."""
    return make_neighbours(api)


def make_neighbours(api: Api) -> Neighbours:
    owner = api.sign_up()
    holdings = hold(api, owner)
    stranger = api.sign_up()
    recipe = api.upload(
        stranger, RECIPE, filename="secret-recipe.pdf", contentType="application/pdf", tags=["confidential"]
    )
    return Neighbours(owner=owner, holdings=holdings, stranger=stranger, recipe_id=recipe["id"])


def state(api: Api, store, user: User) -> dict[str, Any]:
    """Everything an account has, read past the API: records, path claims, usage and objects."""
    return {
        "records": [record.attribute_values for record in documents_of(user.id)],
        "paths": [claim.attribute_values for claim in PathClaim.query(user.id, consistent_read=True)],
        "versions": [row.attribute_values for row in Version.query(user.id, consistent_read=True)],
        "shared_with": [row.attribute_values for row in Share.query(user.id, consistent_read=True)],
        "usage": api.usage(user),
        "objects": objects_under(store, user.id),
        "multipart": multipart_uploads(store, user),
    }


def multipart_uploads(store, user: User) -> list[tuple[str, str, list[tuple[int, str, int]]]]:
    """S3's multipart uploads in progress under the account's prefix, each with the parts it holds."""
    listed = store.client.list_multipart_uploads(Bucket=store.bucket, Prefix=f"{user.id}/").get("Uploads", [])

    def parts(key: str, upload_id: str) -> list[tuple[int, str, int]]:
        held = store.client.list_parts(Bucket=store.bucket, Key=key, UploadId=upload_id)["Parts"]
        return [(part["PartNumber"], part["ETag"], part["Size"]) for part in held]

    return [(upload["Key"], upload["UploadId"], parts(upload["Key"], upload["UploadId"])) for upload in listed]


def world(api: Api, store, *users: User) -> list[dict[str, Any]]:
    return [state(api, store, user) for user in users]


def without_locations(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [{key: value for key, value in error.items() if key != "locations"} for error in body["errors"]]


def coded(code: str, message: str, path: str) -> list[dict[str, Any]]:
    return [{"message": message, "path": [path], "extensions": {"code": code}}]


def listing(api: Api, user: User, **variables: Any) -> list[str]:
    connection = api.data("Documents", {"first": 100, **variables}, user.token)["documents"]
    return [edge["node"]["id"] for edge in connection["edges"]]


# What each id-taking field answers for an id that is not the caller's: (operation, variables, answer).
def attempt(field: str, document_id: str) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
    if field == "document":
        return "Document", {"id": document_id}, None
    if field == "uploadedParts":
        return "UploadedParts", {"documentId": document_id}, None
    upload_not_found = {"__typename": "UploadNotFoundError", "message": NO_UPLOAD, "documentId": document_id}
    if field == "completeUpload":
        return "CompleteUpload", {"input": {"documentId": document_id}}, upload_not_found
    if field == "signUploadParts":
        return "SignUploadParts", {"input": {"documentId": document_id, "partNumbers": [1]}}, upload_not_found
    if field == "completeMultipartUpload":
        parts = [{"number": 1, "etag": "0" * 32}]
        return "CompleteMultipartUpload", {"input": {"documentId": document_id, "parts": parts}}, upload_not_found
    if field == "abortUpload":
        return "AbortUpload", {"input": {"documentId": document_id}}, upload_not_found
    answer = {"__typename": "NotFoundError", "message": NOT_FOUND, "id": document_id}
    if field == "updateDocument":
        changes = {"name": "hijacked.pdf", "tags": ["mine"], "description": "taken over"}
        return "UpdateDocument", {"input": {"id": document_id, **changes}}, answer
    if field == "moveDocument":
        return "MoveDocument", {"input": {"documentId": document_id, "path": "/hijacked.pdf"}}, answer
    if field == "restoreVersion":
        return "RestoreVersion", {"input": {"documentId": document_id, "version": 1}}, answer
    if field in ("followDocument", "unfollowDocument"):
        return field[0].upper() + field[1:], {"input": {"documentId": document_id}}, answer
    if field == "requestUpload":
        version = {"filename": "sneaky.txt", "contentType": "text/plain", "size": 10, "documentId": document_id}
        return "RequestUpload", {"input": version}, answer
    if field == "shareDocument":
        shared = {"__typename": "NotFoundError", "message": NOT_STORED, "id": document_id}
        return "ShareDocument", {"input": {"documentId": document_id, "email": EMAIL, "role": "EDITOR"}}, shared
    return "DeleteDocument", {"input": {"id": document_id}}, answer


ID_FIELDS = [
    "document",
    "completeUpload",
    "updateDocument",
    "moveDocument",
    "restoreVersion",
    "deleteDocument",
    "requestUpload",
    "shareDocument",
    "followDocument",
    "unfollowDocument",
]


#: The multipart fields of the sync work (issue 13), each taking an upload's id.
MULTIPART_FIELDS = ["signUploadParts", "uploadedParts", "completeMultipartUpload", "abortUpload"]
#: What a query field that takes an id answers for one that is not the caller's (a top-level error).
QUERY_NOT_FOUND = {
    "document": NOT_FOUND,
    "uploadedParts": "No multipart upload in progress with that id in this account.",
}


def assert_not_found(api: Api, user: User, field: str, document_id: str) -> dict[str, Any]:
    """Call ``field`` with ``document_id`` as ``user``: it must answer NOT_FOUND its way. The body."""
    operation, variables, answer = attempt(field, document_id)
    body = api.call(operation, variables, user.token)
    if answer is None:
        assert body["data"] is None, body
        assert error_codes(body) == ["NOT_FOUND"]
        assert without_locations(body) == coded("NOT_FOUND", QUERY_NOT_FOUND[field], field)
    else:
        assert body == {"data": {field: answer}}
    return body


# --- another account's ids --------------------------------------------------------------------


@pytest.mark.parametrize("which", ["ready", "pending", "version"])
@pytest.mark.parametrize("field", ID_FIELDS)
def test_another_accounts_document_is_not_found_and_untouched(
    api: Api, store, owner: User, stranger: User, holdings: Holdings, field: str, which: str
) -> None:
    before = world(api, store, owner, stranger)

    assert_not_found(api, stranger, field, holdings.id(which))

    assert world(api, store, owner, stranger) == before


def test_another_account_cannot_complete_an_upload_and_the_owner_still_can(
    api: Api, store, owner: User, stranger: User, holdings: Holdings
) -> None:
    assert_not_found(api, stranger, "completeUpload", holdings.pending_id)

    completed = api.complete(owner, holdings.pending_id)

    assert (completed["status"], completed["size"], completed["checksum"]) == (
        "PROCESSING",
        len(DRAFT),
        hashlib.md5(DRAFT).hexdigest(),
    )
    assert api.usage(stranger) == {"usedBytes": 0, "reservedBytes": 0, "limitBytes": 5 * 1024**3, "documentCount": 0}


def test_another_account_cannot_delete_and_the_owner_still_downloads(
    api: Api, owner: User, stranger: User, holdings: Holdings
) -> None:
    assert_not_found(api, stranger, "deleteDocument", holdings.ready_id)

    document = api.data("Document", {"id": holdings.ready_id}, owner.token)["document"]
    download = plain_http.get(document["downloadUrl"], timeout=30)

    assert (document["name"], document["tags"], document["description"]) == (
        "secret-plan.pdf",
        ["confidential"],
        "Owner only",
    )
    assert (download.status_code, download.content) == (200, PLAN)


@pytest.mark.parametrize(
    "filter",
    [
        pytest.param(None, id="no-filter"),
        pytest.param({"nameContains": "SECRET"}, id="name"),
        pytest.param({"tags": ["confidential"]}, id="tags"),
        pytest.param({"contentType": "application/pdf"}, id="content-type"),
        pytest.param({"status": "READY"}, id="ready"),
        pytest.param({"status": "PENDING_UPLOAD"}, id="pending"),
        pytest.param({"nameContains": "plan", "tags": ["confidential"]}, id="owner-only-name"),
    ],
)
@pytest.mark.parametrize(("field", "direction"), ORDERS)
def test_listing_never_shows_another_accounts_documents(
    api: Api, neighbours: Neighbours, field: str, direction: str, filter: dict[str, Any] | None
) -> None:
    order_by = {"field": field, "direction": direction}
    pending = filter is not None and filter.get("status") == "PENDING_UPLOAD"
    owner_only = filter is not None and filter.get("nameContains") == "plan"

    seen_by_owner = listing(api, neighbours.owner, filter=filter, orderBy=order_by)
    seen_by_stranger = listing(api, neighbours.stranger, filter=filter, orderBy=order_by)

    # The filter does match the owner's documents: the owner sees them.
    holdings = neighbours.holdings
    assert seen_by_owner == [holdings.pending_id if pending else holdings.ready_id]
    assert seen_by_stranger == ([] if pending or owner_only else [neighbours.recipe_id])


@pytest.mark.parametrize(("field", "direction"), ORDERS)
def test_owners_cursor_pages_only_through_the_callers_documents(
    api: Api, neighbours: Neighbours, field: str, direction: str
) -> None:
    order_by = {"field": field, "direction": direction}
    page = api.data("Documents", {"orderBy": order_by}, neighbours.owner.token)["documents"]
    assert [edge["node"]["id"] for edge in page["edges"]] == [neighbours.holdings.ready_id]

    seen = listing(api, neighbours.stranger, after=page["pageInfo"]["endCursor"], orderBy=order_by)

    # The recipe was made after the plan and sorts after it by name: only ASC has it past the cursor.
    assert seen == ([neighbours.recipe_id] if direction == "ASC" else [])


# --- made-up and malformed ids ----------------------------------------------------------------

ODD_IDS: dict[str, Callable[[User, Holdings], str]] = {
    "made-up": lambda owner, holdings: str(ULID()),
    "lowercase-of-the-owners": lambda owner, holdings: holdings.ready_id.lower(),
    "path": lambda owner, holdings: "../../etc",
    "object-key": lambda owner, holdings: f"{owner.id}/{holdings.ready_id}/original",
    "owner-and-id": lambda owner, holdings: f"{owner.id}#{holdings.ready_id}",
    "nul-suffixed": lambda owner, holdings: f"{holdings.ready_id}\x00",
    "empty": lambda owner, holdings: "",
    "10-kb": lambda owner, holdings: "A" * 10_000,
}


@pytest.mark.parametrize("kind", list(ODD_IDS))
@pytest.mark.parametrize("field", ID_FIELDS)
def test_made_up_and_malformed_ids_answer_like_a_foreign_id(
    api: Api, store, owner: User, stranger: User, holdings: Holdings, field: str, kind: str
) -> None:
    odd_id = ODD_IDS[kind](owner, holdings)
    before = world(api, store, owner, stranger)

    foreign = assert_not_found(api, stranger, field, holdings.ready_id)
    odd = assert_not_found(api, stranger, field, odd_id)

    if field == "document":
        assert odd == foreign
    else:
        shape = {key: foreign["data"][field][key] for key in ("__typename", "message")}
        assert {key: odd["data"][field][key] for key in ("__typename", "message")} == shape
    assert world(api, store, owner, stranger) == before


# --- the multipart fields, and every field with another account's multipart upload ---------------


@dataclass
class Parted:
    """An owner with every kind of holding, a multipart upload in progress among them (one part put),
    and a stranger with nothing."""

    owner: User
    holdings: Holdings
    multipart_id: str
    stranger: User

    def id(self, which: str) -> str:
        if which == "multipart":
            return self.multipart_id
        if which in ODD_IDS:
            return ODD_IDS[which](self.owner, self.holdings)
        return self.holdings.id(which)


#: How long one ``Parted`` serves the tests below: well inside its upload form's life (90 s, settled
#: by the workers 30 s after), so that nothing of the owner's changes by itself during a test.
PARTED_SECONDS = 60


@pytest.fixture(scope="module")
def parted(api: Api) -> Callable[[], Parted]:
    """A ``Parted`` for the tests below, which change nothing: made again once it is older than
    ``PARTED_SECONDS``."""
    made: list[tuple[float, Parted]] = []

    def current() -> Parted:
        if not made or time.monotonic() - made[0][0] > PARTED_SECONDS:
            owner = api.sign_up()
            holdings = hold(api, owner)
            started = multipart.start(api, owner, filename="secret-archive.zip", contentType="application/zip")
            (part,) = multipart.sign(api, owner, started["documentId"], [1])["parts"]
            multipart.put(part["url"], multipart.TEXT)
            made[:] = [(time.monotonic(), Parted(owner, holdings, started["documentId"], api.sign_up()))]
        return made[0][1]

    return current


SYNC_CASES = [(field, "multipart") for field in ID_FIELDS] + [
    (field, which) for field in MULTIPART_FIELDS for which in ("ready", "pending", "version", "multipart", *ODD_IDS)
]


@pytest.mark.parametrize(("field", "which"), SYNC_CASES)
def test_multipart_fields_and_multipart_uploads_of_another_account_are_not_found_and_untouched(
    api: Api, store, parted: Callable[[], Parted], field: str, which: str
) -> None:
    """Each multipart field with each kind of another account's id (a document, a form's upload, a
    version upload, a multipart upload) and with made-up and malformed ids; and every other
    id-taking field with another account's multipart upload in progress."""
    given = parted()
    before = world(api, store, given.owner, given.stranger)
    assert before[0]["multipart"] != []  # the owner's multipart upload is open in S3, a part in it

    assert_not_found(api, given.stranger, field, given.id(which))

    assert world(api, store, given.owner, given.stranger) == before


def compared(api: Api, user: User, files: list[dict[str, str]], prefix: str) -> list[tuple[str, str, str | None]]:
    variables = {"input": {"files": files, "pathPrefix": prefix}}
    answer = api.data("CompareChecksums", variables, user.token)["compareChecksums"]
    return [(item["path"], item["state"], item["document"] and item["document"]["id"]) for item in answer]


def test_compare_checksums_never_answers_another_accounts_documents(api: Api, fresh_neighbours: Neighbours) -> None:
    # The owner's version upload of /secret-plan.pdf (posted, not completed) must still be pending:
    # once its form expires the workers complete it, and the path holds the draft's bytes.
    neighbours = fresh_neighbours
    plan = {"path": "/secret-plan.pdf", "contentHash": content_hash.of_bytes(PLAN)}
    draft = {"path": "/SECRET-DRAFT.pdf", "contentHash": content_hash.of_bytes(DRAFT)}

    seen_by_stranger = compared(api, neighbours.stranger, [plan, draft], "/")
    seen_by_owner = compared(api, neighbours.owner, [plan], "/secret-plan")

    # The owner's paths and hashes are right: the owner finds them.
    assert seen_by_owner == [("/secret-plan.pdf", "UNCHANGED", neighbours.holdings.ready_id)]
    assert seen_by_stranger == [
        ("/secret-plan.pdf", "NOT_ON_SERVER", None),
        ("/SECRET-DRAFT.pdf", "NOT_ON_SERVER", None),
        ("/secret-recipe.pdf", "NOT_ON_CLIENT", neighbours.recipe_id),  # the stranger's own, and only it
    ]


# --- tokens -----------------------------------------------------------------------------------

NEEDS_TOKEN = [
    "me",
    "document",
    "documents",
    "compareChecksums",
    "changes",
    "latestChangeCursor",
    "requestUpload",
    "completeUpload",
    "updateDocument",
    "moveDocument",
    "restoreVersion",
    "deleteDocument",
    "shareDocument",
    "unshareDocument",
    "sharedWithMe",
    "followDocument",
    "unfollowDocument",
]


def call_needing_token(field: str, holdings: Holdings) -> tuple[str, dict[str, Any] | None]:
    if field in ID_FIELDS:
        operation, variables, _ = attempt(
            field, holdings.pending_id if field == "completeUpload" else holdings.ready_id
        )
        return operation, variables
    if field == "compareChecksums":
        return "CompareChecksums", {"input": {"files": [{"path": "/secret-plan.pdf", "contentHash": "0" * 64}]}}
    if field == "unshareDocument":
        return "UnshareDocument", {"input": {"shareId": holdings.ready_id * 2}}
    operations = {
        "me": "Me",
        "documents": "Documents",
        "signOut": "SignOut",
        "sharedWithMe": "SharedWithMe",
        "changes": "Changes",
        "latestChangeCursor": "LatestChangeCursor",
    }
    return operations[field], None


def token_of(kind: str, api: Api, owner: User) -> str | None:
    if kind == "missing":
        return None
    if kind == "garbage":
        return "garbage"
    if kind == "unknown":
        return "dst_" + "A" * 43  # shaped like a real token, but never issued
    signed_in = api.data("SignIn", {"input": {"email": owner.email, "password": PASSWORD}})["signIn"]
    token: str = signed_in["token"]
    assert api.data("Me", token=token)["me"]["id"] == owner.id
    assert api.data("SignOut", token=token) == {"signOut": {"revoked": True}}
    return token


@pytest.mark.parametrize("kind", ["missing", "garbage", "unknown", "revoked"])
@pytest.mark.parametrize("field", [*NEEDS_TOKEN, "signOut"])
def test_every_field_needing_a_token_is_unauthenticated_without_a_working_one(
    api: Api, store, owner: User, holdings: Holdings, field: str, kind: str
) -> None:
    token = token_of(kind, api, owner)
    operation, variables = call_needing_token(field, holdings)
    before = state(api, store, owner)

    body = api.call(operation, variables, token)

    assert body["data"] is None, body
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert without_locations(body) == coded("UNAUTHENTICATED", SIGN_IN_FIRST, field)
    assert state(api, store, owner) == before  # also: the owner's own session still works


def test_signing_out_ends_only_that_session(api: Api, owner: User) -> None:
    other_session = api.data("SignIn", {"input": {"email": owner.email, "password": PASSWORD}})["signIn"]["token"]

    assert api.data("SignOut", token=other_session) == {"signOut": {"revoked": True}}

    assert error_codes(api.call("Me", token=other_session)) == ["UNAUTHENTICATED"]
    assert api.data("Me", token=owner.token)["me"]["id"] == owner.id


# --- a grantee: the document shared with it, and nothing else of its owner's ------------------------


@pytest.fixture
def grantee(api: Api) -> User:
    return api.sign_up()


# (the document shared with the grantee, the one it tries): what the shared document itself allows
# is tests/resolvers/test_shares.py's.
ELSEWHERE = [
    (shared, which) for shared in ("ready", "another") for which in ("ready", "pending", "version") if shared != which
]


@pytest.mark.parametrize(("shared", "which"), ELSEWHERE)
@pytest.mark.parametrize("field", ID_FIELDS)
def test_a_grantee_reaches_only_the_document_shared_with_it(
    api: Api, store, owner: User, grantee: User, holdings: Holdings, field: str, which: str, shared: str
) -> None:
    """EDITOR of one document (the READY one, or another of the owner's): every other document and
    upload of the owner's, the version upload of the shared document included, is NOT_FOUND."""
    if shared == "another":
        another = api.upload(owner, RECIPE, filename="shared.pdf", contentType="application/pdf")
        api.share(owner, another["id"], grantee, "EDITOR")
    else:
        api.share(owner, holdings.ready_id, grantee, "EDITOR")
    before = world(api, store, owner, grantee)

    assert_not_found(api, grantee, field, holdings.id(which))

    assert world(api, store, owner, grantee) == before


@pytest.mark.parametrize("field", ID_FIELDS)
def test_a_removed_share_is_not_found_at_once_and_changes_nothing(
    api: Api, store, owner: User, grantee: User, holdings: Holdings, field: str
) -> None:
    share = api.share(owner, holdings.ready_id, grantee, "EDITOR")
    assert api.data("Document", {"id": holdings.ready_id}, grantee.token)["document"]["id"] == holdings.ready_id
    api.data("UnshareDocument", {"input": {"shareId": share["id"]}}, owner.token)
    before = world(api, store, owner, grantee)

    if field == "completeUpload":
        assert_not_found(api, grantee, field, holdings.version_id)
    else:
        assert_not_found(api, grantee, field, holdings.ready_id)

    assert world(api, store, owner, grantee) == before


def test_shares_and_shared_listings_never_show_another_accounts(
    api: Api, owner: User, grantee: User, holdings: Holdings
) -> None:
    stranger = api.sign_up()
    share = api.share(owner, holdings.ready_id, grantee, "VIEWER")

    assert api.data("SharedWithMe", {"first": 100}, stranger.token)["sharedWithMe"]["edges"] == []
    assert [edge["node"]["id"] for edge in api.data("SharedWithMe", {}, grantee.token)["sharedWithMe"]["edges"]] == [
        holdings.ready_id
    ]
    assert api.data("DocumentShares", {"id": holdings.ready_id}, grantee.token)["document"]["shares"] == []
    refused = api.data("UnshareDocument", {"input": {"shareId": share["id"]}}, stranger.token)["unshareDocument"]
    assert refused["__typename"] == "NotFoundError"
    for scope in ("SHARED", "ALL"):
        found = api.data("Search", {"query": "secret", "scope": scope}, stranger.token)["search"]
        assert found["edges"] == [], scope
    (row,) = Share.query(grantee.id, consistent_read=True)
    assert (row.owner_id, row.document_id, row.role) == (owner.id, holdings.ready_id, "VIEWER")
