"""A document shared with another account, followed live over a real WebSocket to the live server:
the grantee's ``documentEvents(documentId)`` gets the owner's events of that document only, and ends
with NOT_FOUND the moment the share is removed or the document deleted, even when the removal's
event never arrives."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from events.envelope import EventType
from models import shares
from tests.client import Api, User
from tests.subscriptions.conftest import Events, Socket, bearer, event, next_message, open_socket
from tests.subscriptions.test_sessions import SIGNED_OUT, assert_nothing_else, ended

CONTENT = b"shared live, eleven"
NO_LONGER_SHARED = "The document is no longer shared with you."
DELETED = "The document was deleted: it is no longer shared with you."


def not_found(id: str, message: str) -> list[dict[str, Any]]:
    """What ends running operation ``id`` as NOT_FOUND: an error in place of data, then ``complete``."""
    error = {"message": message, "extensions": {"code": "NOT_FOUND"}}
    return [{"id": id, "type": "next", "payload": {"data": None, "errors": [error]}}, {"id": id, "type": "complete"}]


@contextlib.contextmanager
def follow(ws_url: str, grantee: User, document_id: str) -> Iterator[Socket]:
    """A socket of ``grantee``'s that subscribed to the document's events as operation ``doc``."""
    with open_socket(ws_url) as socket:
        socket.init(bearer(grantee))
        assert socket.receive() == {"type": "connection_ack"}
        socket.subscribe("doc", "DocumentEvents", {"documentId": document_id})
        yield socket


def shared_document(api: Api, role: str = "VIEWER") -> tuple[User, User, str, dict[str, Any]]:
    owner, grantee = api.sign_up(), api.sign_up()
    document = api.upload(owner, CONTENT, filename="live.txt", contentType="text/plain")
    share = api.share(owner, document["id"], grantee, role)
    return owner, grantee, document["id"], share


@contextlib.contextmanager
def subscribed(ws_url: str, events: Events, owner: User, grantee: User, document_id: str) -> Iterator[Socket]:
    """:func:`follow`, once the subscription is live on both channels."""
    with follow(ws_url, grantee, document_id) as socket:
        events.wait_for_subscribers(owner.id, 1)
        events.wait_for_subscribers(grantee.id, 1)
        yield socket


def test_grantee_follows_the_shared_document_and_only_it(ws_url: str, api: Api, events: Events) -> None:
    owner, grantee, document_id, _ = shared_document(api)
    with subscribed(ws_url, events, owner, grantee, document_id) as socket:
        other = event(EventType.PROCESSING_STARTED, owner.id, "01JOTHERDOCAAAAAAAAAAAAAAA", 1)
        ready = event(EventType.DOCUMENT_READY, owner.id, document_id, 2, content_hash="ab" * 32, has_thumbnail=False)
        events.publish(other, ready)

        assert socket.receive() == next_message("doc", "documentEvents", ready)
        assert_nothing_else(socket)


def test_unshare_ends_the_grantees_subscription_at_once(ws_url: str, api: Api, events: Events) -> None:
    owner, grantee, document_id, share = shared_document(api, "EDITOR")
    with subscribed(ws_url, events, owner, grantee, document_id) as socket:
        removed = api.data("UnshareDocument", {"input": {"shareId": share["id"]}}, owner.token)

        assert removed["unshareDocument"]["id"] == share["id"]
        assert socket.receive_many(2) == not_found("doc", NO_LONGER_SHARED)
        events.wait_for_subscribers(owner.id, 0)
        later = event(EventType.DOCUMENT_READY, owner.id, document_id, 3, content_hash="cd" * 32)
        events.publish(later)
        assert_nothing_else(socket)


def test_a_removal_whose_event_is_lost_still_sends_nothing_more(ws_url: str, api: Api, events: Events) -> None:
    owner, grantee, document_id, _ = shared_document(api)
    with subscribed(ws_url, events, owner, grantee, document_id) as socket:
        found = shares.get(grantee.id, document_id)
        assert found is not None
        shares.delete(found)  # as unshareDocument does, but no ShareRemoved event is published

        events.publish(event(EventType.DOCUMENT_READY, owner.id, document_id, 4, content_hash="ef" * 32))

        assert socket.receive_many(2) == not_found("doc", NO_LONGER_SHARED)


def test_deleting_the_document_sends_its_deletion_then_ends(ws_url: str, api: Api, events: Events) -> None:
    owner, grantee, document_id, _ = shared_document(api)
    with subscribed(ws_url, events, owner, grantee, document_id) as socket:
        api.data("DeleteDocument", {"input": {"id": document_id}}, owner.token)

        deletion = socket.receive()
        assert deletion["payload"]["data"]["documentEvents"]["__typename"] == "DocumentDeleted"
        assert deletion["payload"]["data"]["documentEvents"]["documentId"] == document_id
        assert socket.receive_many(2) == not_found("doc", DELETED)


def test_grantee_signing_out_ends_it_and_the_owner_signing_out_does_not(ws_url: str, api: Api, events: Events) -> None:
    owner, grantee, document_id, _ = shared_document(api)
    with subscribed(ws_url, events, owner, grantee, document_id) as socket:
        assert api.data("SignOut", token=owner.token) == {"signOut": {"revoked": True}}
        assert_nothing_else(socket)

        assert api.data("SignOut", token=grantee.token) == {"signOut": {"revoked": True}}

        assert socket.receive_many(2) == ended("doc", SIGNED_OUT)


def test_a_stranger_cannot_subscribe_to_the_document(ws_url: str, api: Api, events: Events) -> None:
    owner, _, document_id, _ = shared_document(api)
    stranger = api.sign_up()
    with follow(ws_url, stranger, document_id) as socket:
        message = socket.receive()

        assert (message["id"], message["type"]) == ("doc", "error")
        assert [(error["message"], error["extensions"]) for error in message["payload"]] == [
            ("No document with that id in this account.", {"code": "NOT_FOUND"})
        ]
        assert events.subscribers(owner.id) == 0
