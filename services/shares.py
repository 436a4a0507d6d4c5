"""Sharing a document with another account (issue 14, item 3): share, unshare, list.

The owner shares a stored document with an account by its email, as VIEWER or EDITOR; sharing
again with the same email changes the role. The owner or the grantee removes a share, and the
grantee loses access at once: every access check reads the share consistently
(``access.documents``), and a ``ShareRemoved`` event on the owner's channel ends the grantee's
open subscriptions to the document. A document's delete takes its shares with it.

What an email reveals: whether an account has it (``ValidationError`` on ``email``), which
``signUp`` already tells anyone (``EmailTakenError``), and whether it lives in this region; no
more (not its id, not its plan). Failures are typed: :class:`InvalidInput`,
:class:`DocumentNotFound`, :class:`ShareNotFound`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from domain.sharing import GRANTED
from events.envelope import Event, EventType
from models import accounts, documents, shares
from models.errors import DocumentNotFound, ShareNotFound
from services import follows, validation

if TYPE_CHECKING:
    from domain.sharing import Role
    from models.accounts import Account
    from models.shares import Share
    from runtime.services import Services

#: A share's id as the API shows it: its document's id, then its grantee's (two ULIDs).
SHARE_ID = re.compile(r"[0-9A-HJKMNP-TV-Z]{52}")
NO_ACCOUNT = "No account has this email."
YOURSELF = "You own this document: share it with another account."
OTHER_REGION = "That account lives in another region: documents are shared within a region only."


def public_id(share: Share) -> str:
    return f"{share.document_id}{share.grantee_id}"


def parse_id(raw: str) -> tuple[str, str]:
    """(document id, grantee id) of an API id; :class:`ShareNotFound` for one that cannot be."""
    if not SHARE_ID.fullmatch(raw):
        raise ShareNotFound(raw[:64])
    return raw[:26], raw[26:]


async def share(services: Services, owner: Account, raw_document_id: str, raw_email: str, role: Role) -> Share:
    """Share the owner's stored document with the account of ``raw_email`` as ``role`` (VIEWER or
    EDITOR), or change the role it has. :class:`InvalidInput` on ``email`` (not an email, no
    account, the owner's own, an account of another region) or ``role``;
    :class:`DocumentNotFound` for a document that is not the owner's or not stored (also when
    deleted meanwhile: the share's write checks it). Nothing is written on a refusal."""
    checks = validation.Checks()
    email = checks(validation.email, "", raw_email)
    if role not in GRANTED:
        checks.problems.append(validation.Problem("role", "A share gives VIEWER or EDITOR."))
    checks.done()
    document_id = validation.document_id(raw_document_id)
    document = await services.blocking.run(documents.get, owner.id, document_id)
    if not document.reachable:
        raise DocumentNotFound(document_id)
    grantee = await services.blocking.run(accounts.find_by_email, email)
    if grantee is None:
        raise validation.invalid("email", NO_ACCOUNT)
    if grantee.id == owner.id:
        raise validation.invalid("email", YOURSELF)
    if grantee.home_region != services.settings.region:
        # Its sessions are its home region's, where this document is not: it could never open it.
        raise validation.invalid("email", OTHER_REGION)
    return await services.blocking.run(
        functools.partial(shares.put, owner.id, owner.email, document_id, grantee.id, grantee.email, role)
    )


async def unshare(services: Services, viewer_id: str, raw_share_id: str) -> Share:
    """Remove a share: by the document's owner, or by the grantee leaving it. The grantee loses
    access at once, open subscriptions included, and no longer follows the document.
    :class:`ShareNotFound` for a share that is gone or neither the viewer's to give nor its to
    leave."""
    document_id, grantee_id = parse_id(raw_share_id)
    found = await services.blocking.run(shares.get, grantee_id, document_id)
    if found is None or viewer_id not in (found.owner_id, found.grantee_id):
        raise ShareNotFound(raw_share_id)
    await services.blocking.run(shares.delete, found)
    await follows.forget(services, found.owner_id, document_id, grantee_id)
    await services.publisher.publish(
        Event(EventType.SHARE_REMOVED, found.owner_id, document_id=document_id, data={"grantee": grantee_id})
    )
    return found


async def of_document(services: Services, owner_id: str, document_id: str) -> list[Share]:
    """The owner's document's shares (none for anyone else's: the index is the owner's)."""
    return await services.blocking.run(shares.of_document, owner_id, document_id)


@dataclass(frozen=True)
class SharedPage:
    """A page of ``sharedWithMe``: (share, document) pairs, newest document first."""

    entries: list[tuple[Share, documents.Document]]
    has_next: bool
    #: The document id the page read up to: the next page starts after it, even when the page's
    #: last share was left out (its document gone).
    last_read: str | None


def _shared_with(grantee_id: str, limit: int, after: str | None) -> SharedPage:
    rows, more = shares.page(grantee_id, limit, after)
    by_owner: dict[str, list[str]] = {}
    for row in rows:
        by_owner.setdefault(row.owner_id, []).append(row.document_id)
    found: dict[tuple[str, str], documents.Document] = {}
    for owner_id, ids in by_owner.items():
        for document_id, record in documents.get_many(owner_id, ids).items():
            found[(owner_id, document_id)] = record
    entries: list[tuple[Share, documents.Document]] = []
    for row in rows:
        held = found.get((row.owner_id, row.document_id))
        if held is not None and held.reachable:
            entries.append((row, held))
    return SharedPage(entries=entries, has_next=more, last_read=rows[-1].document_id if rows else None)


async def shared_with(services: Services, grantee_id: str, limit: int, after: str | None) -> SharedPage:
    """``sharedWithMe``: the documents shared with the grantee, newest first, ``limit`` shares a
    page after the document id ``after``; shares of documents no longer stored (deleted, their
    shares not cleared yet) are left out, so a page may hold fewer."""
    return await services.blocking.run(_shared_with, grantee_id, limit, after)
