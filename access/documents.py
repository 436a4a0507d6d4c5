"""Whether the viewer may do something to a document: the one home of that rule.

A document is reached by its owner (role OWNER) or by an account it is shared with (the share's
role, EDITOR or VIEWER, read consistently on every request: a removed share denies at once).
Anything else, and a shared document that is not stored (an upload in progress, a rejected one,
or one deleted meanwhile), is ``DocumentNotFound``: nobody learns that a document exists from
an id. A document the viewer can see but whose role does not allow the action is ``FORBIDDEN``
(a top-level coded error, as for anything not allowed): the viewer knows the document exists
already, and a NOT_FOUND there would read as though it had been deleted.

What each role allows: VIEWER reads (the document, its download URL, thumbnails, versions, its
events); EDITOR also renames, retags, redescribes and uploads a new version (on the owner's
quota); only the OWNER moves, deletes, restores a version, makes share links and shares.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from domain.sharing import Role
from models import accounts, documents, shares
from models.errors import DocumentNotFound
from schema.errors import Forbidden
from services import validation

if TYPE_CHECKING:
    from models.accounts import Account
    from models.documents import Document
    from models.shares import Share
    from runtime.services import Services

#: What FORBIDDEN says, by the least role the action needs.
NOT_ALLOWED = {
    Role.EDITOR: "This document is shared with you as VIEWER: only its owner or an EDITOR may change it.",
    Role.OWNER: "Only the document's owner may do this; it is shared with you.",
}


@dataclass(frozen=True)
class Reached:
    """A document as the viewer reaches it, and the viewer's role on it."""

    document: Document
    role: Role
    #: The share that gives the role; None for the owner.
    share: Share | None = None

    @property
    def owner_id(self) -> str:
        return self.document.owner_id


def shared(viewer_id: str, document_id: str) -> Reached:
    """The document as shared with the viewer: :class:`DocumentNotFound` without a share, or when
    the document is not stored (blocking: run it on the services' pool)."""
    share, document = shares.reach(viewer_id, document_id)
    return Reached(document=document, role=share.role, share=share)


def _reach(viewer_id: str, raw_id: str) -> Reached:
    document_id = validation.document_id(raw_id)
    try:
        return Reached(document=documents.get(viewer_id, document_id), role=Role.OWNER)
    except DocumentNotFound:
        return shared(viewer_id, document_id)


async def reach(services: Services, viewer_id: str, raw_id: str, needed: Role = Role.VIEWER) -> Reached:
    """The document ``raw_id`` as the viewer reaches it. :class:`DocumentNotFound` when the viewer
    cannot see it; ``FORBIDDEN`` when it can, but its role does not allow ``needed``."""
    reached = await services.blocking.run(_reach, viewer_id, raw_id)
    if not reached.role.allows(needed):
        raise Forbidden(NOT_ALLOWED[needed])
    return reached


async def via_share(services: Services, viewer_id: str, raw_id: str, needed: Role) -> Reached:
    """For an action the viewer's own account refused as ``DocumentNotFound`` (its own documents
    are tried first, at no extra cost to owners): the document as shared with the viewer, when its
    role allows ``needed``. ``DocumentNotFound`` when it is not shared with the viewer (or not
    stored); ``FORBIDDEN`` when it is, but the role does not allow ``needed`` (always, for
    OWNER)."""
    document_id = validation.document_id(raw_id)
    reached = await services.blocking.run(shared, viewer_id, document_id)
    if not reached.role.allows(needed):
        raise Forbidden(NOT_ALLOWED[needed])
    return reached


async def refuse_shared(services: Services, viewer_id: str, raw_id: str) -> None:
    """For an owner's action that the viewer's own account refused as ``DocumentNotFound``:
    ``FORBIDDEN`` when the document is shared with the viewer (it knows the document exists);
    otherwise nothing, and the caller answers NOT_FOUND."""
    try:
        await via_share(services, viewer_id, raw_id, Role.OWNER)
    except DocumentNotFound:
        return


async def owner_of(services: Services, reached: Reached) -> Account:
    """The owner's account, as stored now: an EDITOR's upload reserves and counts on its quota."""
    return await services.blocking.run(accounts.get_fresh, reached.owner_id, services.cache)


def _shared_upload(viewer_id: str, upload_id: str) -> Reached:
    noted = shares.upload_of(viewer_id, upload_id)
    if noted is None:
        raise DocumentNotFound(upload_id)
    reached = shared(viewer_id, noted.document_id)
    if not reached.role.allows(Role.EDITOR):
        raise DocumentNotFound(upload_id)
    return reached


async def shared_upload(services: Services, viewer_id: str, raw_id: str) -> Reached:
    """The document an upload of the viewer's is a new version of, when the viewer started it as
    the document's EDITOR and still is: ``DocumentNotFound`` otherwise (the share removed or made
    VIEWER since: the upload is then the owner's to complete, or the sweeper's to settle)."""
    upload_id = validation.document_id(raw_id)
    return await services.blocking.run(_shared_upload, viewer_id, upload_id)
