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
from models import accounts, digests, documents, follows, outbox, shares
from models.base import utcnow
from models.errors import AccountNotFound, DocumentNotFound

if TYPE_CHECKING:
    from collections.abc import Sequence

    from adapters.mail import Mailer
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
    now = utcnow()
    version = document.current_version
    lines = [
        digests.Line(document.owner_id, document.document_id, document.name, change.value, by.email, version, now)
        for change in made
    ]
    window = services.settings.digest_seconds
    await services.deliver(await services.blocking.run(_keep, targets, lines, window))
    return {"followers": targets, "by": by.email, "version": version}


# --- the digest: what waits for a follower's next email ---------------------------------------

#: How a change reads in a digest.
SAID = {
    DocumentChange.NEW_VERSION: "new version",
    DocumentChange.RENAMED: "renamed",
    DocumentChange.RETAGGED: "retagged",
    DocumentChange.DELETED: "deleted",
    DocumentChange.RESTORED: "earlier version restored",
}


def _keep(targets: Sequence[str], lines: Sequence[digests.Line], window_seconds: int) -> list[outbox.Pending]:
    """Each follower's lines kept for its digest, and its digest scheduled unless it is: the
    schedules' messages."""
    messages = []
    for follower_id in targets:
        digests.add(follower_id, lines)
        message = digests.schedule(follower_id, window_seconds)
        if message is not None:
            messages.append(message)
    return messages


def _readable(follower_id: str, rows: Sequence[digests.DigestRow]) -> list[digests.DigestRow]:
    """The lines the follower may still read: of documents it owns or that are still shared with
    it and stored; of a document deleted while it followed, every line (it could read them until
    the delete, which its DELETED line tells)."""
    allowed: dict[str, bool] = {}
    for row in rows:
        if row.change == DocumentChange.DELETED:
            allowed[str(row.document_id)] = True
    for row in rows:
        document_id, owner_id = str(row.document_id), str(row.owner_id)
        if document_id in allowed:
            continue
        try:
            if owner_id == follower_id:
                allowed[document_id] = documents.get(owner_id, document_id).reachable
            else:
                shares.reach(follower_id, document_id)  # the rule access.documents applies to requests
                allowed[document_id] = True
        except DocumentNotFound:
            allowed[document_id] = False
    return [row for row in rows if allowed[str(row.document_id)]]


def digest_text(rows: Sequence[digests.DigestRow]) -> tuple[str, str]:
    """The subject and body of a digest of ``rows``: who changed what, in which version. No link
    and no bytes: the follower signs in to see the document."""
    subject = f"DocStore: {len(rows)} change{'s' if len(rows) != 1 else ''} to documents you follow"
    said = [
        f'- "{row.name}": {SAID[DocumentChange(str(row.change))]} by {row.by}, version {int(row.version or 1)}'
        for row in rows
    ]
    body = "\n".join(
        [
            "Changes to documents you follow, since your last digest:",
            "",
            *said,
            "",
            "Sign in to DocStore to see them. To hear no more of a document, unfollow it (unfollowDocument).",
        ]
    )
    return subject, body


def send_digest(mailer: Mailer, follower_id: str, key: str, window_seconds: int) -> outbox.Pending | None:
    """The ``digest.due`` message ``key``: email the follower the lines waiting for it that it may
    still read, then remove them and the schedule; schedule the next digest when lines came
    meanwhile (its message, for the caller to deliver). A repeat of a digest's message, or one
    sent meanwhile, finds another schedule or none and sends nothing. Blocking."""
    if not digests.scheduled(follower_id, key):
        return None
    rows = digests.waiting(follower_id)
    try:
        account = accounts.get(follower_id)
    except AccountNotFound:
        account = None
    kept = _readable(follower_id, rows) if account is not None else []
    if account is not None and kept:
        mailer.send(account.email, *digest_text(kept))
    digests.done(follower_id, rows)
    if digests.waiting(follower_id):
        return digests.schedule(follower_id, window_seconds)
    return None
