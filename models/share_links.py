"""Share links: a document's public links, each found by the hash of its token.

A link is a row of ``share_links`` under its owner, sorted by ``{document_id}#{link_id}``, so a
document's links are one consistent Query of the owner's partition and a document's delete finds
every one. The public page finds a link by ``token_hash`` (the SHA-256 of its token) through the
``by-token`` index; every write (a download counted, an update, a revoke) goes to the row itself,
conditioned on what it must still be, so the index lagging a write can never let a download
through that the row refuses.

How many links a document holds is counted on the document's record (``Document.share_links``):
creating one is a transaction that puts the link and adds one to the count on the condition that it
is under the limit and the document is stored, so concurrent creates never pass the limit and a
link is never made for a document deleted meanwhile. A revoke takes one off. The token itself is
never stored (``services.share_links`` derives it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.transactions import TransactWrite

from domain.documents import STORED
from models.base import BaseMeta, TableModel, condition_failed, failed_items, transaction_connection, utcnow
from models.documents import Document
from models.errors import DocumentNotFound, ShareLinkNotFound, TooManyLinks

if TYPE_CHECKING:
    from datetime import datetime


class ByToken(GlobalSecondaryIndex["ShareLink"]):
    class Meta:
        index_name = "by-token"
        projection = AllProjection()

    token_hash = UnicodeAttribute(hash_key=True)


class ShareLink(TableModel):
    """A public link to a document (or to one version of it)."""

    class Meta(BaseMeta):
        table_name = "share_links"

    owner_id = UnicodeAttribute(hash_key=True)
    link_key = UnicodeAttribute(range_key=True)
    document_id = UnicodeAttribute()
    link_id = UnicodeAttribute()
    #: SHA-256 (hex) of the token: the lookup key, never the token.
    token_hash = UnicodeAttribute()
    #: The version it serves; None: the document's current version at download time.
    version = NumberAttribute(null=True)
    expires_at = UTCDateTimeAttribute()
    #: None: no limit but the expiry.
    max_downloads = NumberAttribute(null=True)
    downloads = NumberAttribute(default=0)
    #: The argon2 hash of its password, as account passwords are hashed; None: no password.
    password_hash = UnicodeAttribute(null=True)
    revoked_at = UTCDateTimeAttribute(null=True)
    created_at = UTCDateTimeAttribute()

    by_token = ByToken()

    @property
    def exhausted(self) -> bool:
        return self.max_downloads is not None and int(self.downloads) >= int(self.max_downloads)

    def live(self, now: datetime) -> bool:
        """Whether it may still be downloaded: not revoked, not expired, not exhausted."""
        return self.revoked_at is None and self.expires_at > now and not self.exhausted


def link_key(document_id: str, link_id: str) -> str:
    return f"{document_id}#{link_id}"


def get(owner_id: str, document_id: str, link_id: str) -> ShareLink:
    try:
        return ShareLink.get(owner_id, link_key(document_id, link_id), consistent_read=True)
    except ShareLink.DoesNotExist:
        raise ShareLinkNotFound(document_id + link_id) from None


#: The most links a listing shows: the newest. Revoked links stay (their page answers 410), so
#: a document made and revoked links for years would otherwise list them all.
LISTED = 100


def of_document(owner_id: str, document_id: str, limit: int | None = LISTED) -> list[ShareLink]:
    """The document's newest ``limit`` links (None: all), oldest first (one consistent Query of
    the owner's partition; link ids sort by creation)."""
    rows = ShareLink.query(
        owner_id,
        ShareLink.link_key.startswith(f"{document_id}#"),
        consistent_read=True,
        scan_index_forward=False,
        limit=limit,
    )
    return list(reversed(list(rows)))


def of_owner(owner_id: str) -> list[ShareLink]:
    return list(ShareLink.query(owner_id, consistent_read=True))


def by_token_hash(token_hash: str, *, consistent: bool = True) -> ShareLink | None:
    """The link whose token hashes to ``token_hash``: the index's copy, then (``consistent``) the
    row itself read consistently. A page that only shows the link may take the index's copy (it
    may lag a write by a moment); what changes or gives anything reads the row."""
    for found in ShareLink.by_token.query(token_hash, limit=1):
        if not consistent:
            return found
        try:
            return ShareLink.get(found.owner_id, found.link_key, consistent_read=True)
        except ShareLink.DoesNotExist:
            return None
    return None


@dataclass(frozen=True)
class NewLink:
    """What a new link is made of; the id and the token's hash come from the caller."""

    document_id: str
    link_id: str
    token_hash: str
    version: int | None
    expires_at: datetime
    max_downloads: int | None
    password_hash: str | None


def create(owner_id: str, new: NewLink, limit: int, now: datetime | None = None) -> ShareLink:
    """Put the link and count it on its document, in one transaction: :class:`TooManyLinks` when
    the document holds ``limit`` links, :class:`DocumentNotFound` when it is not stored (or not the
    owner's), and nothing written then. A link of that id that exists already is left as it is
    (Make Public's link, asked for again by a repeated completion): that one is answered."""
    now = now or utcnow()
    link = ShareLink(
        owner_id=owner_id,
        link_key=link_key(new.document_id, new.link_id),
        document_id=new.document_id,
        link_id=new.link_id,
        token_hash=new.token_hash,
        version=new.version,
        expires_at=new.expires_at,
        max_downloads=new.max_downloads,
        downloads=0,
        password_hash=new.password_hash,
        created_at=now,
    )
    try:
        with TransactWrite(connection=transaction_connection()) as transaction:
            transaction.save(link, condition=ShareLink.link_key.does_not_exist())
            transaction.update(
                Document(owner_id=owner_id, document_id=new.document_id),
                actions=[Document.share_links.add(1)],
                condition=Document.document_id.exists()
                & Document.status.is_in(*STORED)
                & Document.version_of.does_not_exist()
                & (Document.share_links.does_not_exist() | (Document.share_links < limit)),
            )
    except TransactWriteError as error:
        # PynamoDB sends the puts before the updates: [link put, document update].
        link_failed, document_failed = failed_items(error)
        if link_failed:
            return get(owner_id, new.document_id, new.link_id)
        if not document_failed:
            raise
        try:
            document = Document.get(owner_id, new.document_id, consistent_read=True)
        except Document.DoesNotExist:
            raise DocumentNotFound(new.document_id) from None
        if document.status not in STORED or document.version_of is not None:
            raise DocumentNotFound(new.document_id) from None
        raise TooManyLinks(limit) from None
    return link


def update(
    link: ShareLink,
    *,
    expires_at: datetime | None,
    max_downloads: int | None,
    password_hash: str | None,
    remove_password: bool,
) -> ShareLink:
    """Change what is given (None leaves a field as it is); on condition the link is not revoked:
    :class:`ShareLinkNotFound` otherwise, nothing written."""
    actions: list[Any] = []
    if expires_at is not None:
        actions.append(ShareLink.expires_at.set(expires_at))
    if max_downloads is not None:
        actions.append(ShareLink.max_downloads.set(max_downloads))
    if remove_password:
        actions.append(ShareLink.password_hash.remove())
    elif password_hash is not None:
        actions.append(ShareLink.password_hash.set(password_hash))
    if not actions:
        return link
    try:
        link.update(actions=actions, condition=ShareLink.link_key.exists() & ShareLink.revoked_at.does_not_exist())
    except UpdateError as error:
        if condition_failed(error):
            raise ShareLinkNotFound(link.document_id + link.link_id) from None
        raise
    return link


def revoke(link: ShareLink, now: datetime | None = None) -> ShareLink:
    """End the link at once and give its place on the document back; a second revoke is a no-op
    (the link as revoked first). The count is taken off only where the document still is."""
    now = now or utcnow()
    if link.revoked_at is not None:
        return link
    try:
        with TransactWrite(connection=transaction_connection()) as transaction:
            transaction.update(
                link,
                actions=[ShareLink.revoked_at.set(now)],
                condition=ShareLink.link_key.exists() & ShareLink.revoked_at.does_not_exist(),
            )
            transaction.update(
                Document(owner_id=link.owner_id, document_id=link.document_id),
                actions=[Document.share_links.add(-1)],
                condition=Document.share_links > 0,
            )
    except TransactWriteError as error:
        link_failed, document_failed = failed_items(error)
        if link_failed:
            return get(link.owner_id, link.document_id, link.link_id)
        if not document_failed:
            raise
        # The document is gone (its delete takes its links next): revoke the row alone.
        try:
            link.update(
                actions=[ShareLink.revoked_at.set(now)],
                condition=ShareLink.link_key.exists() & ShareLink.revoked_at.does_not_exist(),
            )
        except UpdateError as inner:
            if condition_failed(inner):
                return get(link.owner_id, link.document_id, link.link_id)
            raise
        return link
    link.revoked_at = now
    return link


def count_download(link: ShareLink, now: datetime | None = None) -> bool:
    """Count one download, atomically: on condition the link is not revoked, not expired and under
    its ``max_downloads``. False (nothing counted) when one of them no longer holds."""
    now = now or utcnow()
    condition = (
        ShareLink.link_key.exists()
        & ShareLink.revoked_at.does_not_exist()
        & (ShareLink.expires_at > now)
        & (ShareLink.max_downloads.does_not_exist() | (ShareLink.downloads < ShareLink.max_downloads))
    )
    try:
        link.update(actions=[ShareLink.downloads.add(1)], condition=condition)
    except UpdateError as error:
        if condition_failed(error):
            return False
        raise
    return True


def forget_document(owner_id: str, document_id: str) -> int:
    """Delete every link of a document (its delete has committed); how many there were."""
    rows = of_document(owner_id, document_id, limit=None)
    with ShareLink.batch_write() as batch:
        for row in rows:
            batch.delete(row)
    return len(rows)


def recount(held: dict[tuple[str, str], int]) -> None:
    """Set each restored document's count of live links (``docstore restore``): ``held`` maps
    (owner, document) to the links restored for it that are not revoked."""
    for (owner_id, document_id), live in held.items():
        try:
            Document(owner_id=owner_id, document_id=document_id).update(
                actions=[Document.share_links.set(live)], condition=Document.document_id.exists()
            )
        except UpdateError as error:
            if not condition_failed(error):
                raise
