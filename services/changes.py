"""The change feed: what changed in an account's documents since a cursor, for sync clients.

The changes are written by the transactions that make them (``models.changes``); here they are
read a page at a time behind opaque cursors, announced live once committed, and replayed for
``changeEvents``. A cursor names its account: another account's cursor is refused as bad input
(it could only ever show the caller's own changes, but a client mixing up accounts should hear so).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from domain.changes import ChangeKind
from domain.documents import STORED
from events.envelope import Event, EventType
from models import changes, documents
from services import validation

if TYPE_CHECKING:
    from collections.abc import Sequence

    from adapters.pubsub import Publisher
    from models.documents import Document
    from runtime.services import Services

#: Changes one page holds at most (``changes(first)``).
MAX_PAGE = 100
VERSION = 1
NOT_OURS = "The cursor is not one this API gave out to this account."


def cursor(owner_id: str, sequence: int) -> str:
    """The opaque position after change ``sequence`` of the account."""
    raw = json.dumps([VERSION, "changes", owner_id, sequence], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def position(owner_id: str, raw: str, field: str = "after") -> int:
    """The sequence a cursor of this account stands after; :class:`validation.InvalidInput`
    naming ``field`` for anything else (another account's cursor too)."""
    try:
        if len(raw) > 500:
            raise ValueError
        version, scope, owner, sequence = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise validation.invalid(field, NOT_OURS) from None
    valid = version == VERSION and scope == "changes" and isinstance(sequence, int) and not isinstance(sequence, bool)
    if not valid or owner != owner_id or sequence < 0:
        raise validation.invalid(field, NOT_OURS)
    return int(sequence)


@dataclass(frozen=True)
class Entry:
    """A change with the document as it is now (None once it is gone)."""

    change: changes.Change
    document: Document | None


@dataclass(frozen=True)
class Page:
    entries: list[Entry]
    has_next_page: bool
    #: Where to continue from: after the page's last change, or where the page started.
    end_cursor: str


def with_documents(owner_id: str, found: Sequence[changes.Change]) -> list[Entry]:
    """Each change with its document as it is now (one BatchGet per 100 documents)."""
    current = documents.get_many(owner_id, [change.document_id for change in found])
    entries = []
    for change in found:
        document = current.get(change.document_id)
        entries.append(Entry(change, document if document is not None and document.status in STORED else None))
    return entries


def read(owner_id: str, after: int, limit: int) -> tuple[list[Entry], bool]:
    """Up to ``limit`` changes after sequence ``after``, with their documents; blocking.
    :class:`models.changes.CursorExpired` when some after it are no longer kept."""
    try:
        found, more = changes.page(owner_id, after, limit)
    except changes.BeyondLatest:
        raise validation.invalid("after", NOT_OURS) from None
    return with_documents(owner_id, found), more


async def page(services: Services, owner_id: str, after: str | None, first: int) -> Page:
    """A page of the account's changes after the cursor ``after`` (from the oldest kept, without
    one). :class:`validation.InvalidInput` for a bad ``first`` or cursor (every problem at once),
    :class:`models.changes.CursorExpired` for a cursor older than the changes kept."""
    checks = validation.Checks()
    checks(validation.page_size, first, first, MAX_PAGE)
    start = checks(position, 0, owner_id, after) if after is not None else 0
    checks.done()
    entries, more = await services.blocking.run(read, owner_id, start, first)
    end = entries[-1].change.sequence if entries else start
    return Page(entries, more, cursor(owner_id, end))


async def latest_cursor(services: Services, owner_id: str) -> str:
    """A cursor after the account's latest change: the changes from now on follow it."""
    return cursor(owner_id, await services.blocking.run(changes.latest, owner_id))


async def publish(publisher: Publisher, recorded: Sequence[changes.Change]) -> None:
    """Announce committed changes on their owner's channel, for ``changeEvents``. A lost
    announcement loses nothing: a subscriber that sees a later one reads the gap from the feed."""
    for change in recorded:
        await publisher.publish(
            Event(
                EventType.CHANGE_RECORDED,
                change.owner_id,
                document_id=change.document_id,
                at=change.at,
                data={
                    "sequence": change.sequence,
                    "kind": change.kind.value,
                    "path": change.path,
                    "version": change.version,
                },
            )
        )


def announced(event: Event) -> changes.Change:
    """The change a ``ChangeRecorded`` event announces; KeyError, ValueError or TypeError for a
    malformed one."""
    data = event.data
    version = data.get("version")
    return changes.Change(
        owner_id=event.account_id,
        sequence=int(data["sequence"]),
        kind=ChangeKind(data["kind"]),
        at=event.at,
        document_id=str(event.document_id),
        path=str(data["path"]),
        version=None if version is None else int(version),
    )
