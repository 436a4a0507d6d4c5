"""Following a document: who hears of its changes (issue 14, item 4).

The owner follows its documents unless it said otherwise (``Document.owner_unfollowed``); an
account the document is shared with follows it once it asks (its id in ``Document.followers``).
Both live on the document's record, not in a table of their own: every change of a document reads
or writes its record already, so it finds who follows it at no extra request, and a document's
delete takes its followers with it.

A grantee's follow is written in one transaction with a check that its share still stands, so no
follow outlives a share removed meanwhile; removing a share removes the grantee's follow
(:func:`forget`). Whatever reads the followers to tell them something still checks each
grantee's share (``access.documents``): a follow is a wish, the share is the right.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from domain.documents import STORED
from models.base import condition_failed, failed_items, transaction_connection
from models.documents import Document
from models.errors import DocumentNotFound
from models.shares import Share

if TYPE_CHECKING:
    from pynamodb.expressions.condition import Condition


def _stored() -> Condition:
    stored = Document.document_id.exists() & Document.status.is_in(*STORED) & Document.version_of.does_not_exist()
    return cast("Condition", stored)


def following(document: Document, account_id: str) -> bool:
    """Whether ``account_id`` follows the document, as the record read says."""
    if account_id == document.owner_id:
        return not document.owner_unfollowed
    return account_id in (document.followers or set())


def followers(document: Document) -> set[str]:
    """Every account that follows the document: the owner (unless it opted out) and the grantees
    that asked (each still to be checked against its share)."""
    found = set(document.followers or set())
    if not document.owner_unfollowed:
        found.add(document.owner_id)
    return found


def follow(document: Document, account_id: str) -> None:
    """``account_id`` (the owner, or an account the document is shared with) follows the stored
    document: :class:`DocumentNotFound` when it is not stored any more, or, for a grantee, when
    its share is gone (nothing written)."""
    if account_id == document.owner_id:
        _update(document, [Document.owner_unfollowed.remove()])
        return
    try:
        with TransactWrite(connection=transaction_connection()) as transaction:
            transaction.condition_check(
                Share, account_id, document.document_id, condition=Share.owner_id == document.owner_id
            )
            transaction.update(document, actions=[Document.followers.add({account_id})], condition=_stored())
    except TransactWriteError as error:
        if any(failed_items(error)):
            raise DocumentNotFound(document.document_id) from None
        raise


def unfollow(document: Document, account_id: str) -> None:
    """``account_id`` no longer follows the stored document (the owner's opt-out is kept);
    :class:`DocumentNotFound` when it is not stored any more."""
    if account_id == document.owner_id:
        _update(document, [Document.owner_unfollowed.set(True)])
    else:
        _update(document, [Document.followers.delete({account_id})])


def forget(owner_id: str, document_id: str, account_id: str) -> None:
    """The grantee's follow goes with its share (after the share's delete); nothing when the
    document is gone, which took its followers with it."""
    try:
        _update(Document(owner_id=owner_id, document_id=document_id), [Document.followers.delete({account_id})])
    except DocumentNotFound:
        return


def _update(document: Document, actions: list[Any]) -> None:
    try:
        Document(owner_id=document.owner_id, document_id=document.document_id).update(
            actions=actions, condition=_stored()
        )
    except UpdateError as error:
        if condition_failed(error):
            raise DocumentNotFound(document.document_id) from None
        raise
