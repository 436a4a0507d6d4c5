"""Followers hear live of a document's changes, over a real WebSocket to the live server: a
``DocumentChanged`` on the follower's ``documentEvents`` (all documents, and the document's own),
once per change, naming who made it and the version, never to the one who made it, and no longer
once the share is removed."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from events.envelope import EventType
from tests.client import Api, User
from tests.subscriptions.conftest import Events, Socket, bearer, event, open_socket
from tests.subscriptions.test_sessions import assert_nothing_else
from tests.subscriptions.test_shared_documents import DELETED, not_found

CONTENT = b"followed live, twenty"


def shared_and_followed(api: Api, role: str = "EDITOR") -> tuple[User, User, str]:
    owner, grantee = api.sign_up(), api.sign_up()
    document = api.upload(owner, CONTENT, filename="live.txt", contentType="text/plain")
    api.share(owner, document["id"], grantee, role)
    result = api.data("FollowDocument", {"input": {"documentId": document["id"]}}, grantee.token)["followDocument"]
    assert result["following"] is True
    return owner, grantee, document["id"]


@contextlib.contextmanager
def watching(
    ws_url: str, events: Events, user: User, document_id: str | None = None, *live: tuple[str, int]
) -> Iterator[Socket]:
    """A socket of ``user``'s subscribed to ``documentEvents`` as ``all``, and to the document's
    own as ``one`` when given, once each (account, subscriptions) of ``live`` holds."""
    with open_socket(ws_url) as socket:
        socket.init(bearer(user))
        assert socket.receive() == {"type": "connection_ack"}
        socket.subscribe("all", "DocumentEvents")
        if document_id is not None:
            socket.subscribe("one", "DocumentEvents", {"documentId": document_id})
        for account_id, count in live:
            events.wait_for_subscribers(account_id, count)
        yield socket


#: What :func:`changed` passed over, by socket: :func:`until_ready` looks there first.
PASSED: dict[int, list[dict[str, Any]]] = {}


def until_ready(socket: Socket) -> None:
    """Read the document's own subscription up to its DocumentReady: processing is over, and no
    event of it comes later."""
    passed = PASSED.pop(id(socket), [])
    while True:
        message = passed.pop(0) if passed else socket.receive()
        assert message["id"] == "one", message
        if message["payload"]["data"]["documentEvents"]["__typename"] == "DocumentReady":
            assert not passed, passed
            return


def changed(socket: Socket, passing: tuple[str, ...] = ("one",)) -> tuple[str, dict[str, Any]]:
    """The next ``DocumentChanged`` message: its operation and its event, without its id and time.
    The operations in ``passing`` may have other events first (the document's own subscription
    has the owner's processing events; the owner's every one of its documents'), passed over."""
    while True:
        message = socket.receive()
        assert message["type"] == "next", message
        assert message["payload"]["data"] is not None, message
        body = dict(message["payload"]["data"]["documentEvents"])
        if body.pop("__typename") != "DocumentChanged":
            assert message["id"] in passing, message
            PASSED.setdefault(id(socket), []).append(message)
            continue
        assert body.pop("id")
        assert body.pop("at")
        return message["id"], body


def without_time(message: dict[str, Any]) -> dict[str, Any]:
    """A ``next`` message's event, without its id and time."""
    body = dict(message["payload"]["data"]["documentEvents"])
    del body["id"], body["at"]
    return body


def heard(socket: Socket, count: int, passing: tuple[str, ...] = ("one",)) -> list[tuple[str, dict[str, Any]]]:
    """The next ``count`` changes, by operation (the two operations of one socket may interleave
    either way)."""
    found = [changed(socket, passing) for _ in range(count)]
    return sorted(found, key=lambda item: item[0])


def change(document_id: str, kind: str, by: User, version: int) -> dict[str, Any]:
    return {"documentId": document_id, "change": kind, "by": by.email, "version": version}


def update(api: Api, user: User, document_id: str, **fields: Any) -> None:
    result = api.data("UpdateDocument", {"input": {"id": document_id, **fields}}, user.token)["updateDocument"]
    assert result["__typename"] == "Document", result


def test_a_follower_hears_each_change_by_the_owner_once_and_the_owner_nothing(
    ws_url: str, api: Api, events: Events
) -> None:
    owner, grantee, document_id = shared_and_followed(api)
    with (
        watching(ws_url, events, grantee, document_id, (grantee.id, 2), (owner.id, 1)) as follower,
        watching(ws_url, events, owner, None, (owner.id, 2)) as actor,
    ):
        update(api, owner, document_id, name="renamed.txt")
        renamed = change(document_id, "RENAMED", owner, 1)
        assert heard(follower, 2) == [("all", renamed), ("one", renamed)]

        assert_nothing_else(actor)  # its own change

        update(api, owner, document_id, tags=["blue"])
        assert [body for _, body in heard(follower, 2)] == [change(document_id, "RETAGGED", owner, 1)] * 2

        update(api, owner, document_id, description="said otherwise")  # nothing a follower hears
        update(api, owner, document_id, name="both.txt", tags=["red"])
        both = [change(document_id, "RENAMED", owner, 1), change(document_id, "RETAGGED", owner, 1)]
        assert [body for _, body in heard(follower, 4)] == both * 2

        api.submit(owner, b"the second version", documentId=document_id)
        assert [body for _, body in heard(follower, 2)] == [change(document_id, "NEW_VERSION", owner, 2)] * 2
        until_ready(follower)

        restored = api.data("RestoreVersion", {"input": {"documentId": document_id, "version": 1}}, owner.token)
        assert restored["restoreVersion"]["__typename"] == "Document", restored
        assert [body for _, body in heard(follower, 2)] == [change(document_id, "RESTORED", owner, 3)] * 2
        until_ready(follower)

        api.data("DeleteDocument", {"input": {"id": document_id}}, owner.token)
        received = follower.receive_many(5)
        deleted = {"__typename": "DocumentChanged", **change(document_id, "DELETED", owner, 3)}
        # The document's own subscription has the change, then its DocumentDeleted, and ends.
        one = [message for message in received if message["id"] == "one"]
        assert [without_time(message) for message in one[:2]] == [
            deleted,
            {"__typename": "DocumentDeleted", "documentId": document_id},
        ]
        assert one[2:] == not_found("one", DELETED)
        assert [without_time(message) for message in received if message["id"] == "all"] == [deleted]
        assert_nothing_else(follower)


def test_the_owner_hears_an_editors_changes_and_the_editor_does_not(ws_url: str, api: Api, events: Events) -> None:
    owner, editor, document_id = shared_and_followed(api, "EDITOR")
    with (
        watching(ws_url, events, owner, document_id, (owner.id, 2)) as followed,
        watching(ws_url, events, editor, None, (editor.id, 1)) as acting,
    ):
        update(api, editor, document_id, name="by the editor.txt")
        assert heard(followed, 2) == [
            ("all", change(document_id, "RENAMED", editor, 1)),
            ("one", change(document_id, "RENAMED", editor, 1)),
        ]

        api.submit(editor, b"the editor's version", documentId=document_id)
        owned = ("one", "all")
        assert [body for _, body in heard(followed, 2, owned)] == [change(document_id, "NEW_VERSION", editor, 2)] * 2
        assert_nothing_else(acting)


def test_an_owner_who_unfollowed_hears_nothing(ws_url: str, api: Api, events: Events) -> None:
    owner, editor, document_id = shared_and_followed(api, "EDITOR")
    api.data("UnfollowDocument", {"input": {"documentId": document_id}}, owner.token)
    with watching(ws_url, events, owner, None, (owner.id, 1)) as socket:
        update(api, editor, document_id, name="unheard.txt")
        assert_nothing_else(socket)


def test_a_removed_share_stops_the_changes_at_once(ws_url: str, api: Api, events: Events) -> None:
    owner, grantee, document_id = shared_and_followed(api, "VIEWER")
    with watching(ws_url, events, grantee, None, (grantee.id, 1)) as socket:
        share_id = document_id + grantee.id
        api.data("UnshareDocument", {"input": {"shareId": share_id}}, owner.token)

        update(api, owner, document_id, name="after the share.txt")
        # Even a change announced before the follow went (a process that read it just before):
        # the open subscription reads the share first.
        late = event(
            EventType.DOCUMENT_CHANGED, grantee.id, document_id, 1, change="RENAMED", by=owner.email, version=1
        )
        late.data["owner"] = owner.id
        events.publish(late)

        assert_nothing_else(socket)
