"""Following documents (issue 14, item 4): follow, unfollow, and telling followers of a change.

Anyone who can read a document follows or unfollows it (the caller, ``access.documents``, has
reached it); the owner follows its own documents unless it unfollowed them. A change made by one
account is announced live to every other follower, once, on the follower's own channel, as a
``DocumentChanged`` event (``subscriptions.feeds`` sends it only while the follower can still read
the document). The followers are read from the document's record the change read anyway
(``models.follows``), so a change nobody else follows costs no request more.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from domain.follows import DocumentChange
from events.envelope import Event, EventType
from models import documents, follows

if TYPE_CHECKING:
    from collections.abc import Sequence

    from models.accounts import Account
    from runtime.services import Services


async def follow(services: Services, document: documents.Document, viewer_id: str) -> documents.Document:
    """The viewer follows the document it reached; the document as it is now.
    :class:`DocumentNotFound` when it was deleted, or its share removed, meanwhile."""
    await services.blocking.run(follows.follow, document, viewer_id)
    return await services.blocking.run(documents.get, document.owner_id, document.document_id)


async def unfollow(services: Services, document: documents.Document, viewer_id: str) -> documents.Document:
    """The viewer no longer follows the document (for the owner: its opt-out is kept); the
    document as it is now. :class:`DocumentNotFound` when it was deleted meanwhile."""
    await services.blocking.run(follows.unfollow, document, viewer_id)
    return await services.blocking.run(documents.get, document.owner_id, document.document_id)


async def forget(services: Services, owner_id: str, document_id: str, account_id: str) -> None:
    """A removed share takes its account's follow with it."""
    await services.blocking.run(functools.partial(follows.forget, owner_id, document_id, account_id))


def update_changes(name: str | None, tags: Sequence[str] | None) -> list[DocumentChange]:
    """What an ``updateDocument`` tells followers: RENAMED for a new name, RETAGGED for new tags
    (both, as two changes, for both; nothing for a new description alone)."""
    found = []
    if name is not None:
        found.append(DocumentChange.RENAMED)
    if tags is not None:
        found.append(DocumentChange.RETAGGED)
    return found


async def announce(
    services: Services, document: documents.Document, made: Sequence[DocumentChange], by: Account
) -> dict[str, object]:
    """Tell every follower of ``document`` (the record as the change left it, or as deleted) but
    ``by`` what ``by`` did: one ``DocumentChanged`` event per change and follower, on the
    follower's channel. Nothing at all, and no request, when nobody else follows it. What was told
    to whom (``followers``, ``by``, ``version``; empty when nobody): a deletion's
    ``DocumentDeleted`` carries it."""
    targets = sorted(follows.followers(document) - {by.id})
    if not targets:
        return {}
    for follower_id in targets:
        for change in made:
            await services.publisher.publish(
                Event(
                    EventType.DOCUMENT_CHANGED,
                    follower_id,
                    document_id=document.document_id,
                    data={
                        "change": change.value,
                        "by": by.email,
                        "version": document.current_version,
                        "owner": document.owner_id,
                    },
                )
            )
    return {"followers": targets, "by": by.email, "version": document.current_version}
