"""Following documents, through the API over real HTTP against the session's live server:
followDocument, unfollowDocument and Document.following for the owner, an EDITOR and a VIEWER, and
NOT_FOUND, with nothing written, for anyone else and after the share or the document is gone."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from typing import Any

import anyio
import httpx
import pytest
from pynamodb.signals import pre_dynamodb_send

from models import documents
from server import create_app
from tests import plain_http
from tests.client import PASSWORD, Api, User, operation, post_form
from tests.resolvers.test_read_cache import Calls, _counting

CONTENT = b"followed notes, twenty"
NO_DOCUMENT = "No document with that id in this account."


def follow(api: Api, user: User, document_id: str, name: str = "FollowDocument") -> dict[str, Any]:
    field = name[0].lower() + name[1:]
    result: dict[str, Any] = api.data(name, {"input": {"documentId": document_id}}, user.token)[field]
    return result


def unfollow(api: Api, user: User, document_id: str) -> dict[str, Any]:
    return follow(api, user, document_id, "UnfollowDocument")


def following(api: Api, user: User, document_id: str) -> bool:
    found: bool = api.data("DocumentFollowing", {"id": document_id}, user.token)["document"]["following"]
    return found


def stored(owner: User, document_id: str) -> tuple[set[str] | None, bool | None]:
    """Who follows the document besides its owner, and the owner's opt-out, as stored."""
    record = documents.get(owner.id, document_id)
    return record.followers, record.owner_unfollowed


def not_found(document_id: str) -> dict[str, Any]:
    return {"__typename": "NotFoundError", "message": NO_DOCUMENT, "id": document_id}


@pytest.fixture
def owner(api: Api) -> User:
    return api.sign_up()


@pytest.fixture
def document_id(api: Api, owner: User) -> str:
    document: dict[str, Any] = api.upload(owner, CONTENT, filename="followed.txt", contentType="text/plain")
    return str(document["id"])


def test_the_owner_follows_by_default_and_its_opt_out_is_kept_until_it_follows_again(
    api: Api, owner: User, document_id: str
) -> None:
    assert following(api, owner, document_id) is True
    assert stored(owner, document_id) == (None, None)

    assert unfollow(api, owner, document_id) == {"__typename": "Document", "id": document_id, "following": False}
    assert following(api, owner, document_id) is False
    assert stored(owner, document_id) == (None, True)

    assert follow(api, owner, document_id) == {"__typename": "Document", "id": document_id, "following": True}
    assert following(api, owner, document_id) is True
    assert stored(owner, document_id) == (None, None)


@pytest.mark.parametrize("role", ["VIEWER", "EDITOR"])
def test_a_grantee_of_any_role_follows_and_unfollows(api: Api, owner: User, document_id: str, role: str) -> None:
    grantee = api.sign_up()
    api.share(owner, document_id, grantee, role)
    assert following(api, grantee, document_id) is False

    assert follow(api, grantee, document_id) == {"__typename": "Document", "id": document_id, "following": True}
    assert follow(api, grantee, document_id)["following"] is True  # again: no change
    assert following(api, grantee, document_id) is True
    assert following(api, owner, document_id) is True  # each viewer's own
    assert stored(owner, document_id) == ({grantee.id}, None)

    assert unfollow(api, grantee, document_id) == {"__typename": "Document", "id": document_id, "following": False}
    assert following(api, grantee, document_id) is False
    assert stored(owner, document_id) == (None, None)


def test_a_stranger_cannot_follow_or_unfollow_and_nothing_is_written(api: Api, owner: User, document_id: str) -> None:
    stranger = api.sign_up()
    before = stored(owner, document_id)

    assert follow(api, stranger, document_id) == not_found(document_id)
    assert unfollow(api, stranger, document_id) == not_found(document_id)
    assert follow(api, stranger, "01JNOSUCHDOCUMENTAAAAAAAAA") == not_found("01JNOSUCHDOCUMENTAAAAAAAAA")

    assert stored(owner, document_id) == before


@pytest.mark.parametrize("who", ["owner", "grantee"])
def test_unsharing_removes_the_grantees_follow_and_it_cannot_follow_again(
    api: Api, owner: User, document_id: str, who: str
) -> None:
    grantee = api.sign_up()
    share = api.share(owner, document_id, grantee, "EDITOR")
    follow(api, grantee, document_id)
    remover = owner if who == "owner" else grantee

    api.data("UnshareDocument", {"input": {"shareId": share["id"]}}, remover.token)

    assert stored(owner, document_id) == (None, None)
    assert follow(api, grantee, document_id) == not_found(document_id)
    assert stored(owner, document_id) == (None, None)
    api.share(owner, document_id, grantee, "VIEWER")  # shared again: not followed until it asks
    assert following(api, grantee, document_id) is False


def test_a_deleted_document_answers_not_found_to_everyone(api: Api, owner: User, document_id: str) -> None:
    grantee = api.sign_up()
    api.share(owner, document_id, grantee)
    follow(api, grantee, document_id)

    api.data("DeleteDocument", {"input": {"id": document_id}}, owner.token)

    for user in (owner, grantee):
        assert follow(api, user, document_id) == not_found(document_id)
        assert unfollow(api, user, document_id) == not_found(document_id)


# --- the digest: one email a window, by SES (the session's window: 5 s) --------------------------


def mail(mail_to, user: User, count: int) -> list[tuple[str, str]]:
    """The first ``count`` emails sent to ``user`` (subject, body), once they are sent."""
    deadline = time.monotonic() + 60
    while len(mail_to(user.email)) < count:
        assert time.monotonic() < deadline, f"{len(mail_to(user.email))} emails to {user.email}, not {count}"
        time.sleep(0.1)
    return [(message.subject, message.body) for message in mail_to(user.email)]


def digest(*lines: str) -> tuple[str, str]:
    body = "\n".join(
        [
            "Changes to documents you follow, since your last digest:",
            "",
            *lines,
            "",
            "Sign in to DocStore to see them. To hear no more of a document, unfollow it (unfollowDocument).",
        ]
    )
    count = len(lines)
    return f"DocStore: {count} change{'s' if count != 1 else ''} to documents you follow", body


def rename(api: Api, user: User, document_id: str, **fields: Any) -> None:
    result = api.data("UpdateDocument", {"input": {"id": document_id, **fields}}, user.token)["updateDocument"]
    assert result["__typename"] == "Document", result


@pytest.mark.usefixtures("frozen_heap")
def test_changes_within_the_window_make_one_email_and_later_ones_the_next(
    api: Api, owner: User, document_id: str, mail_to
) -> None:
    grantee = api.sign_up()
    api.share(owner, document_id, grantee)
    follow(api, grantee, document_id)

    rename(api, owner, document_id, name="first.txt")
    rename(api, owner, document_id, tags=["draft"])

    first = digest(
        f'- "first.txt": renamed by {owner.email}, version 1',
        f'- "first.txt": retagged by {owner.email}, version 1',
    )
    assert mail(mail_to, grantee, 1) == [first]

    rename(api, owner, document_id, name="second.txt")

    assert mail(mail_to, grantee, 2) == [first, digest(f'- "second.txt": renamed by {owner.email}, version 1')]
    assert mail_to(owner.email) == []  # the owner made every change: nothing to tell it


@pytest.mark.usefixtures("frozen_heap")
def test_a_document_no_longer_shared_before_the_digest_is_left_out(api: Api, owner: User, mail_to) -> None:
    grantee = api.sign_up()
    kept, removed = (
        api.upload(owner, CONTENT, filename=f"{name}.txt", contentType="text/plain")["id"] for name in ("kept", "gone")
    )
    shares = {document_id: api.share(owner, document_id, grantee) for document_id in (kept, removed)}
    for document_id in (kept, removed):
        follow(api, grantee, document_id)

    rename(api, owner, removed, name="secret plan.txt")
    rename(api, owner, kept, name="still shared.txt")
    api.data("UnshareDocument", {"input": {"shareId": shares[removed]["id"]}}, owner.token)

    assert mail(mail_to, grantee, 1) == [digest(f'- "still shared.txt": renamed by {owner.email}, version 1')]


@pytest.mark.usefixtures("frozen_heap")
def test_the_owner_hears_an_editor_by_email_but_not_of_a_document_it_unfollowed(api: Api, owner: User, mail_to) -> None:
    editor = api.sign_up()
    followed, unfollowed = (
        api.upload(owner, CONTENT, filename=f"{name}.txt", contentType="text/plain")["id"] for name in ("a", "b")
    )
    for document_id in (followed, unfollowed):
        api.share(owner, document_id, editor, "EDITOR")
    unfollow(api, owner, unfollowed)

    rename(api, editor, unfollowed, name="unheard.txt")
    rename(api, editor, followed, tags=["checked"])

    assert mail(mail_to, owner, 1) == [digest(f'- "a.txt": retagged by {editor.email}, version 1')]
    assert mail_to(editor.email) == []


# --- what following costs an owner alone: nothing -----------------------------------------------


def owner_costs(settings, grantee: str) -> dict[str, dict[str, int]]:
    """The DynamoDB requests of an owner's completeUpload of a new version, updateDocument and
    deleteDocument on one app (no workers), with ``grantee`` "none", "sharing" the document or
    sharing and "following" it."""
    counted = Calls()
    pre_dynamodb_send.connect(counted)
    # The outbox removes what SQS took after the test, not during a request it counts; the read
    # cache keeps the session and the account however slowly a loaded machine runs it.
    app = create_app(settings.with_overrides(run_workers=False, outbox_remove_seconds=3600, cache_seconds=3600))
    results: dict[str, dict[str, int]] = {}

    async def main() -> None:
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            plain_http.AsyncClient(transport=transport, base_url="http://t") as http,
        ):

            async def call(name: str, variables: dict[str, Any], token: str | None, counted_as: str = "") -> Any:
                counted.operations.clear()
                counting = _counting.set(bool(counted_as))
                try:
                    body = {"query": operation(name), "variables": variables}
                    headers = {"Authorization": f"Bearer {token}"} if token else {}
                    answer = (await http.post("/graphql", json=body, headers=headers)).json()
                finally:
                    _counting.reset(counting)
                assert "errors" not in answer, answer
                if counted_as:
                    results[counted_as] = dict(counted.operations)
                return answer["data"]

            async def account() -> tuple[str, str, str]:
                email = f"costs-{uuid.uuid4().hex[:12]}@example.com"
                signed = (await call("SignUp", {"input": {"email": email, "password": PASSWORD}}, None))["signUp"]
                return email, signed["token"], signed["account"]["id"]

            async def upload(token: str, **mode: Any) -> str:
                fields = {"filename": "costs.txt", "contentType": "text/plain", "size": 5, **mode}
                form = (await call("RequestUpload", {"input": fields}, token))["requestUpload"]
                await anyio.to_thread.run_sync(post_form, form, b"hello")
                counted_as = "completeUpload (new version)" if mode else ""
                await call("CompleteUpload", {"input": {"documentId": form["documentId"]}}, token, counted_as)
                return str(form["documentId"])

            _, owner, owner_id = await account()
            await call("Documents", {}, owner)  # the session and the account in the read cache
            document_id = await upload(owner)
            # Given it processed (no workers here): a new version needs it READY.
            ready = documents.Document(owner_id=owner_id, document_id=document_id)
            await anyio.to_thread.run_sync(lambda: ready.update(actions=[documents.Document.status.set("READY")]))
            if grantee != "none":
                email, token, _ = await account()
                share = {"documentId": document_id, "email": email, "role": "VIEWER"}
                await call("ShareDocument", {"input": share}, owner)
                if grantee == "following":
                    await call("FollowDocument", {"input": {"documentId": document_id}}, token)
            await upload(owner, documentId=document_id)
            await call("UpdateDocument", {"input": {"id": document_id, "name": "renamed.txt"}}, owner, "updateDocument")
            await call("DeleteDocument", {"input": {"id": document_id}}, owner, "deleteDocument")

    try:
        anyio.run(main)
    finally:
        pre_dynamodb_send.disconnect(counted)
    return results


def test_an_owner_alone_pays_no_request_more_and_a_follower_its_digest(settings, target, own_tables: str) -> None:
    """On tables of its own: the live server's workers, which read the same queues, find none of
    these documents to process meanwhile (which would race these requests into reading again)."""
    alone = owner_costs(settings, "none")
    shared = owner_costs(settings, "sharing")
    followed = owner_costs(settings, "following")

    # As before followers: the record read says nobody else follows it (tests/resolvers/
    # test_backend_calls.py says what each request is for).
    assert alone == {
        "completeUpload (new version)": {"GetItem": 3, "TransactWriteItems": 1},
        "updateDocument": {"GetItem": 2, "TransactWriteItems": 1},
        "deleteDocument": {"GetItem": 2, "Query": 4, "TransactWriteItems": 1, "BatchWriteItem": 1},
    }
    # A follower's digest: its line kept (BatchWriteItem), its digest scheduled the first time
    # (a transaction with its outbox message), joined after (the schedule's refused transaction).
    extra = {"BatchWriteItem": 1, "TransactWriteItems": 1}
    removal = dict(Counter(alone["deleteDocument"]) + Counter({"BatchWriteItem": 1}))  # item 3's: the share's
    assert shared == alone | {"deleteDocument": removal}
    assert followed == {label: dict(Counter(costs) + Counter(extra)) for label, costs in shared.items()}
