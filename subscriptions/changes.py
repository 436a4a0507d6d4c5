"""``changeEvents``: the account's change feed replayed from a cursor, then live, with no gap and
no change twice.

The order is what makes the switch safe: the subscription joins the account's channel first, so
every change committed from then on is announced into its inbox; then it replays from DynamoDB,
page by page, each page read after emptying the inbox (everything dropped there is read again by
that page or a later one); what the inbox holds after the last page is live. A live announcement
at or below the last sequence sent is a change replay already sent (dropped); the next one is
sent as announced; one further on means announcements were missed (lost, or made where no one
publishes, as the sweeper completing an expired form), so the gap is read from DynamoDB. Events
that follow a change made without an announcement (``ProcessingStarted``, ``DocumentFailed``)
make it read the feed too, so such a change does not wait for the next announced one.

A cursor the feed no longer covers is answered, not refused: the subscription sends one
``CursorExpiredError`` and completes, before joining the channel when the cursor is already too
old, or when a replay (or a gap's reading) finds the changes after the last one sent gone meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TYPE_CHECKING, Annotated

import strawberry

from access.context import Context
from access.permissions import require_account
from adapters.pubsub import SubscriberTooSlow
from domain.documents import STORED
from events.envelope import EventType
from models import changes, documents
from models.changes import CursorExpired
from models.errors import DocumentNotFound
from schema.changes import Change, ChangeEvent, CursorExpiredError
from schema.errors import BadUserInput
from schema.events import TooSlow
from services import changes as changes_service
from services import validation
from subscriptions.feeds import SessionWatch, counted, next_event, watch_session

if TYPE_CHECKING:
    from adapters.blocking import Blocking
    from adapters.pubsub import EventSource, Inbox

log = logging.getLogger("docstore.subscriptions")

#: Changes read from DynamoDB at a time, replaying or filling a gap.
REPLAY_PAGE = 100
#: Events after which a change may have been made that nobody announced: read the feed.
HINTS = frozenset({EventType.PROCESSING_STARTED, EventType.DOCUMENT_FAILED})


async def change_events(
    info: strawberry.Info[Context, None],
    after: Annotated[
        str | None,
        strawberry.argument(
            description=(
                "Replay the changes after this cursor (`endCursor` of `changes`, `latestChangeCursor`, or the "
                "`cursor` of the last change received), then go live; null replays from the oldest change kept."
            )
        ),
    ] = None,
) -> AsyncIterator[ChangeEvent]:
    account = await require_account(info)
    services = info.context.services
    try:
        start = changes_service.position(account.id, after) if after is not None else 0
        # Answered before anything is subscribed: a cursor the feed no longer covers.
        await services.blocking.run(changes_service.read, account.id, start, 1)
    except validation.InvalidInput as error:
        raise BadUserInput(error.problems) from None
    except CursorExpired as expired:
        return counted(services.metrics, "changeEvents", _expired(expired))
    events = replay_then_live(services.events, services.blocking, account.id, start, watch_session(info.context))
    return counted(services.metrics, "changeEvents", events)


async def _expired(expired: CursorExpired) -> AsyncGenerator[ChangeEvent, None]:
    """The one event of a subscription whose cursor the feed no longer covers."""
    yield CursorExpiredError.from_expired(expired)


async def replay_then_live(
    source: EventSource, blocking: Blocking, owner_id: str, after: int, session: SessionWatch | None = None
) -> AsyncGenerator[ChangeEvent, None]:
    """Every change of the account after sequence ``after``, in order, each once: replayed from
    DynamoDB, then as announced on the account's channel (see the module's docstring). Should the
    changes to read next be gone, ``CursorExpiredError`` last."""
    try:
        async with source.subscribe(owner_id) as inbox:
            last = after
            more = True
            while more:  # replay
                await _drop_unread(inbox, session)
                entries, more = await _read(blocking, owner_id, last)
                for entry in entries:
                    last = entry.change.sequence
                    yield _change(entry.change, entry.document)
            while True:  # live
                try:
                    event = await next_event(inbox, session)
                except SubscriberTooSlow as error:
                    raise TooSlow(error.limit) from None
                if event.type is EventType.SESSION_ENDED:
                    _end_if_ours(event.data.get("session"), session)
                    continue
                if event.type is EventType.CHANGE_RECORDED:
                    try:
                        change = changes_service.announced(event)
                    except (KeyError, ValueError, TypeError):
                        log.warning("change announcement %s does not fit; read from the feed: %s", event.id, event.data)
                        change = None
                    if change is not None and change.sequence <= last:
                        continue  # sent already, by the replay or a gap's reading
                    if change is not None and change.sequence == last + 1:
                        last = change.sequence
                        yield _change(change, await blocking.run(_current, owner_id, change.document_id))
                        continue
                elif event.type not in HINTS:
                    continue
                more = True
                while more:  # a gap, or a change nobody announced: read it from the feed
                    entries, more = await _read(blocking, owner_id, last)
                    for entry in entries:
                        last = entry.change.sequence
                        yield _change(entry.change, entry.document)
    except CursorExpired as expired:
        yield CursorExpiredError.from_expired(expired)


async def _read(blocking: Blocking, owner_id: str, after: int) -> tuple[list[changes_service.Entry], bool]:
    """The next page of the feed after ``after``; :class:`CursorExpired` should its changes have
    gone meanwhile (a replay slower than their retention)."""
    return await blocking.run(changes_service.read, owner_id, after, REPLAY_PAGE)


async def _drop_unread(inbox: Inbox, session: SessionWatch | None) -> None:
    """Empty the inbox without waiting: the page read next covers every change announced so far.
    A sign-out among what is dropped still ends the subscription."""
    while len(inbox):
        try:
            event = await inbox.get()
        except SubscriberTooSlow as error:
            raise TooSlow(error.limit) from None
        if event.type is EventType.SESSION_ENDED:
            _end_if_ours(event.data.get("session"), session)


def _end_if_ours(fingerprint: object, session: SessionWatch | None) -> None:
    if session is not None and fingerprint == session.fingerprint:
        raise session.ended("was signed out")


def _change(change: changes.Change, document: documents.Document | None) -> Change:
    return Change.from_model(change, document, changes_service.cursor(change.owner_id, change.sequence))


def _current(owner_id: str, document_id: str) -> documents.Document | None:
    """The document as it is now, while it is stored; None once it is gone."""
    try:
        document = documents.get(owner_id, document_id)
    except DocumentNotFound:
        return None
    return document if document.status in STORED else None
