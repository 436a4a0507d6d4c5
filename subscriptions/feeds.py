"""The subscription fields: an account's live events, read from its channel as they are published.

Each field checks its arguments first, so a refusal (``UNAUTHENTICATED``, ``NOT_FOUND``) is the
operation's ``error`` message and nothing is subscribed; only then does the feed subscribe.

A subscription lives no longer than the session it was started with: it ends with
``UNAUTHENTICATED`` when that session expires or is signed out (``signOut`` publishes a
``SessionEnded`` event on the account's channel, so this works across API processes too), and the
connection's later operations are refused the same way.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, TypeVar

import strawberry
from graphql import ExecutionResult
from starlette.websockets import WebSocket
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from access import documents as access
from access.context import Context
from access.permissions import require_account
from adapters.pubsub import EventSource, Inbox, SubscriberTooSlow
from domain.follows import DocumentChange
from domain.sharing import Role
from events.envelope import Event, EventType
from models import sessions, shares
from models.base import utcnow
from models.errors import DocumentNotFound
from schema.errors import NotFound, Unauthenticated
from schema.events import (
    DocumentChanged,
    DocumentDeleted,
    DocumentEvent,
    DocumentFailed,
    DocumentReady,
    ExtractionProgress,
    ProcessingStarted,
    QuotaChanged,
    QuotaEvent,
    QuotaExceeded,
    QuotaWarning,
    TooSlow,
    UploadStarted,
    WebSocketOnly,
)
from subscriptions.sharing import SHARING

if TYPE_CHECKING:
    from collections.abc import Iterator
    from datetime import datetime

    from adapters.metrics import Metrics
    from runtime.services import Services

log = logging.getLogger("docstore.subscriptions")

T = TypeVar("T")

NO_DOCUMENT = "No document with that id in this account."
NO_LONGER_SHARED = "The document is no longer shared with you."

DOCUMENT_EVENTS: Mapping[EventType, Callable[[Event], DocumentEvent]] = {
    EventType.UPLOAD_STARTED: UploadStarted.from_event,
    EventType.PROCESSING_STARTED: ProcessingStarted.from_event,
    EventType.EXTRACTION_PROGRESS: ExtractionProgress.from_event,
    EventType.DOCUMENT_READY: DocumentReady.from_event,
    EventType.DOCUMENT_FAILED: DocumentFailed.from_event,
    EventType.DOCUMENT_DELETED: DocumentDeleted.from_event,
    EventType.DOCUMENT_CHANGED: DocumentChanged.from_event,
}
QUOTA_EVENTS: Mapping[EventType, Callable[[Event], QuotaEvent]] = {
    EventType.QUOTA_CHANGED: QuotaChanged.from_event,
    EventType.QUOTA_WARNING: QuotaWarning.from_event,
    EventType.QUOTA_EXCEEDED: QuotaExceeded.from_event,
}


class WebSocketOnlySubscriptions(SchemaExtension):
    """Answers a subscription sent over HTTP with ``BAD_REQUEST`` instead of running it as a query
    (which fails on the subscription field and reads as an unexpected error). The view offers no
    HTTP streaming transport, so this is every subscription that does not come over WebSocket."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if context.operation_type is OperationType.SUBSCRIPTION and not over_websocket(context.context):
            context.result = ExecutionResult(data=None, errors=[WebSocketOnly()])
        yield


def over_websocket(context: object) -> bool:
    return isinstance(getattr(context, "request", None), WebSocket)


@dataclass(frozen=True)
class SessionWatch:
    """The session a subscription was started with, and how to end the connection's use of it."""

    fingerprint: str
    expires_at: datetime
    end: Callable[[], None]

    def ended(self, why: str) -> Unauthenticated:
        self.end()
        return Unauthenticated(f"Your session {why}: sign in again, then subscribe again.")


def watch_session(context: Context) -> SessionWatch | None:
    """What ends subscriptions of ``context`` (None when its viewer was not found by a token)."""
    if context.token is None or context.session_expires_at is None:
        return None
    return SessionWatch(sessions.fingerprint(context.token), context.session_expires_at, context.end_session)


async def document_events(
    info: strawberry.Info[Context, None],
    document_id: Annotated[
        strawberry.ID | None,
        strawberry.argument(description="Only this document's events; null (the default) for all your documents."),
    ] = None,
) -> AsyncIterator[DocumentEvent]:
    account = await require_account(info)
    services = info.context.services
    session = watch_session(info.context)
    if document_id is None:
        shared = functools.partial(_still_shared, services, account.id)
        events = feed(services.events, account.id, DOCUMENT_EVENTS, session=session, still_shared=shared)
        return counted(services.metrics, "documentEvents", events)
    try:
        reached = await access.reach(services, account.id, str(document_id))
    except DocumentNotFound:
        raise NotFound(NO_DOCUMENT) from None
    only = reached.document.document_id
    if reached.role is Role.OWNER:
        events = feed(services.events, account.id, DOCUMENT_EVENTS, only=only, session=session)
    else:
        events = shared_feed(services, account.id, reached.owner_id, only, session)
    return counted(services.metrics, "documentEvents", events)


async def quota_events(info: strawberry.Info[Context, None]) -> AsyncIterator[QuotaEvent]:
    account = await require_account(info)
    services = info.context.services
    events = feed(services.events, account.id, QUOTA_EVENTS, session=watch_session(info.context))
    return counted(services.metrics, "quotaEvents", events)


async def feed(
    source: EventSource,
    account_id: str,
    kinds: Mapping[EventType, Callable[[Event], T]],
    only: str | None = None,
    session: SessionWatch | None = None,
    still_shared: Callable[[str], Awaitable[bool]] | None = None,
) -> AsyncGenerator[T, None]:
    """The account's events of ``kinds`` (about document ``only``, if given) as GraphQL types.

    A ``DocumentChanged`` about another account's document (one shared with this account, which
    follows it) is sent only while ``still_shared(document_id)`` says the share stands (a consistent
    read), but for DELETED, which the delete's removal of the share precedes.

    Ends with ``TOO_SLOW`` when the client leaves more than the inbox's limit of events unread, and
    with ``UNAUTHENTICATED`` when ``session`` expires or is signed out.
    """
    async with source.subscribe(account_id) as inbox:
        while True:
            try:
                event = await next_event(inbox, session)
            except SubscriberTooSlow as error:
                raise TooSlow(error.limit) from None
            if event.type is EventType.SESSION_ENDED:
                if session is not None and event.data.get("session") == session.fingerprint:
                    raise session.ended("was signed out")
                continue
            convert = kinds.get(event.type)
            if convert is None or (only is not None and event.document_id != only):
                continue
            if not await _admitted(event, account_id, still_shared):
                continue
            try:
                converted = SHARING.payload(event, functools.partial(convert, event), convert)
            except (KeyError, ValueError, TypeError):
                log.warning("event %s (%s) does not fit its type; dropped: %s", event.id, event.type, event.data)
                continue
            yield converted


async def _admitted(event: Event, account_id: str, still_shared: Callable[[str], Awaitable[bool]] | None) -> bool:
    """Whether a follower may be sent this event of its own channel: anything but a change of a
    document shared with it, and that while the share stands (none without ``still_shared``)."""
    if event.type is not EventType.DOCUMENT_CHANGED or event.data.get("owner") == account_id:
        return True
    if event.data.get("change") == DocumentChange.DELETED:
        return True
    return still_shared is not None and event.document_id is not None and await still_shared(event.document_id)


async def next_event(inbox: Inbox, session: SessionWatch | None) -> Event:
    """The inbox's next event; ``UNAUTHENTICATED`` instead once ``session`` has expired."""
    if session is None:
        return await inbox.get()
    try:
        async with asyncio.timeout((session.expires_at - utcnow()).total_seconds()):
            return await inbox.get()
    except TimeoutError:
        raise session.ended("expired") from None


def counted(metrics: Metrics | None, field: str, events: AsyncGenerator[T, None]) -> AsyncGenerator[T, None]:
    """``events``, counted in ``docstore_subscriptions_open{field}`` from its start to its end."""
    return events if metrics is None else _counting(metrics, field, events)


async def _counting(metrics: Metrics, field: str, events: AsyncGenerator[T, None]) -> AsyncGenerator[T, None]:
    metrics.subscription_opened(field)
    try:
        async for item in events:
            yield item
    finally:
        metrics.subscription_closed(field)
        await events.aclose()


async def shared_feed(
    services: Services, grantee_id: str, owner_id: str, document_id: str, session: SessionWatch | None
) -> AsyncGenerator[DocumentEvent, None]:
    """The events of a document shared with ``grantee_id``, from its owner's channel, for as long
    as the share lasts.

    It reads the grantee's channel too, for its own session's end. It ends with ``NOT_FOUND`` the
    moment the share is removed (the ``ShareRemoved`` event ``unshareDocument`` publishes), after
    the document's ``DocumentDeleted`` (its delete takes its shares), and before any event once the
    share is gone: each event is sent only after a consistent read of the share, so a removal whose
    event was lost (a process stopped in between) still ends it at the next event."""
    async with services.events.subscribe_many((owner_id, grantee_id)) as inbox:
        while True:
            try:
                event = await next_event(inbox, session)
            except SubscriberTooSlow as error:
                raise TooSlow(error.limit) from None
            if event.account_id == grantee_id:
                mine = event.type is EventType.SESSION_ENDED and session is not None
                if mine and session is not None and event.data.get("session") == session.fingerprint:
                    raise session.ended("was signed out")
                if event.type is not EventType.DOCUMENT_CHANGED or event.document_id != document_id:
                    continue
                if event.data.get("change") == DocumentChange.DELETED:
                    continue  # sent from the owner's DocumentDeleted, in its order (below)
            elif event.document_id != document_id or event.type is EventType.DOCUMENT_CHANGED:
                continue  # the owner's channel: its own DocumentChanged events are the owner's
            if event.type is EventType.SHARE_REMOVED:
                if event.data.get("grantee") == grantee_id:
                    raise NotFound(NO_LONGER_SHARED)
                continue
            convert = DOCUMENT_EVENTS.get(event.type)
            if convert is None:
                continue
            # A deletion is sent as is: it names only the id, and the delete has taken the share already.
            deletion = event.type is EventType.DOCUMENT_DELETED
            if not deletion and not await _still_shared(services, grantee_id, document_id):
                raise NotFound(NO_LONGER_SHARED)
            if deletion and grantee_id in event.data.get("followers", ()):
                # A follower's DocumentChanged comes on its own channel, whose order with the
                # owner's is not kept: this subscription sends it from the DocumentDeleted itself.
                changed = followers_deletion(event, grantee_id)
                yield SHARING.payload(changed, functools.partial(DocumentChanged.from_event, changed), DocumentChanged)
            try:
                converted = SHARING.payload(event, functools.partial(convert, event), convert)
            except (KeyError, ValueError, TypeError):
                log.warning("event %s (%s) does not fit its type; dropped: %s", event.id, event.type, event.data)
                continue
            yield converted
            if event.type is EventType.DOCUMENT_DELETED:
                raise NotFound("The document was deleted: it is no longer shared with you.")


def followers_deletion(deleted: Event, follower_id: str) -> Event:
    """The ``DocumentChanged`` (DELETED) a follower hears of the ``DocumentDeleted`` event (whose
    data names the followers, who deleted it, and its version)."""
    data = {"change": DocumentChange.DELETED.value, "owner": deleted.account_id}
    data |= {"by": deleted.data["by"], "version": deleted.data["version"]}
    return Event(EventType.DOCUMENT_CHANGED, follower_id, document_id=deleted.document_id, at=deleted.at, data=data)


async def _still_shared(services: Services, grantee_id: str, document_id: str) -> bool:
    return await services.blocking.run(shares.get, grantee_id, document_id) is not None
