"""Share records: one row per (document, grantee) whose role a second share changes, never a share
of a document that is not the owner's and stored (the write's own condition, so a delete racing the
share's read is refused too), and a document's delete taking every share of it."""

from __future__ import annotations

import pytest
from ulid import ULID

from domain.sharing import Role
from models import shares
from models.errors import DocumentNotFound
from models.shares import Share
from services.documents import _delete
from tests.conftest import new_account, pending_upload, stored


def put(owner, document_id: str, grantee, role: Role = Role.VIEWER) -> Share:
    return shares.put(owner.id, owner.email, document_id, grantee.id, grantee.email, role)


def test_sharing_again_changes_the_role_and_keeps_one_row(store) -> None:
    owner, grantee = new_account(), new_account()
    document = stored(store, owner, b"one row", "text/plain")
    first = put(owner, document.document_id, grantee)

    again = put(owner, document.document_id, grantee, Role.EDITOR)

    (row,) = Share.query(grantee.id, consistent_read=True)
    assert (row.role, row.owner_id, row.owner_key) == (Role.EDITOR, owner.id, f"{document.document_id}#{grantee.id}")
    assert again.created_at == first.created_at
    assert again.updated_at >= first.updated_at


def test_no_share_of_an_upload_in_progress_a_deleted_or_a_foreign_document(store) -> None:
    """The service reads the document first; these are the writes a delete racing that read meets."""
    owner, grantee, stranger = new_account(), new_account(), new_account()
    pending = pending_upload(owner)
    deleted = stored(store, owner, b"soon gone", "text/plain")
    _delete(store, owner.id, deleted.document_id, [], [])
    foreign = stored(store, stranger, b"not the owner's", "text/plain")

    for document_id in (pending.document_id, deleted.document_id, foreign.document_id, str(ULID())):
        with pytest.raises(DocumentNotFound):
            put(owner, document_id, grantee)

    assert list(Share.query(grantee.id, consistent_read=True)) == []


def test_a_documents_delete_takes_its_shares_and_no_other(store) -> None:
    owner, first, second = new_account(), new_account(), new_account()
    document = stored(store, owner, b"shared bytes", "text/plain")
    kept = stored(store, owner, b"other bytes", "text/plain")
    for grantee in (first, second):
        put(owner, document.document_id, grantee)
    put(owner, kept.document_id, first)

    _delete(store, owner.id, document.document_id, [], [])

    assert [row.document_id for row in Share.query(first.id, consistent_read=True)] == [kept.document_id]
    assert list(Share.query(second.id, consistent_read=True)) == []
