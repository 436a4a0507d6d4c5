"""The S3 key layout, the one place it is spelled out.

::

    staging/{owner}/{document}                 where the upload form posts the file
    {owner}/{document}/{nonce}/original        the file, once completeUpload has copied it there
    {owner}/{document}/text.txt                the text extracted from it (PREMIUM)
    {owner}/{document}/thumbnails/{hash}/{px}.webp  its thumbnails, by the content hash of the bytes
                                               they show and their longer side: immutable

Keys are chosen by the server; the client's filename never reaches one. A form posts to its
staging key only, and nothing reads a staging key once the upload is completed, so a form posted
again (S3 accepts it until the form expires) changes no stored document. Staging objects are
deleted when the form has expired, and by the bucket's lifecycle rule (the sweeper where there is
no lifecycle) after ``DOCSTORE_STAGING_DAYS``.

Documents completed before staging existed keep the key ``{owner}/{document}/original`` in their
record, which stays valid: records name their object, nothing derives it.
"""

from __future__ import annotations

import secrets

#: Every staging key starts with this; the bucket's lifecycle rule expires what is under it.
STAGING_PREFIX = "staging/"


def staging(owner_id: str, document_id: str) -> str:
    """The key an upload form posts to: fixed per document, so it can be cleaned up from the ids
    alone, after the record is gone."""
    return f"{STAGING_PREFIX}{owner_id}/{document_id}"


def is_staging(key: str) -> bool:
    return key.startswith(STAGING_PREFIX)


def nonce() -> str:
    """A fresh name for one completion's copy (64 random bits)."""
    return secrets.token_hex(8)


def original(owner_id: str, document_id: str, nonce: str) -> str:
    """Where a completed upload's bytes are kept. Each completion attempt copies to a nonce of its
    own, so two attempts racing a form posted again never write one key: the record names the
    copy whose size and checksum it counted."""
    return f"{document_prefix(owner_id, document_id)}{nonce}/original"


def text(owner_id: str, document_id: str) -> str:
    """The extracted text of a document (PREMIUM, searchable types)."""
    return f"{document_prefix(owner_id, document_id)}text.txt"


def thumbnails(owner_id: str, document_id: str) -> str:
    """Every thumbnail of a document, of its current and earlier versions."""
    return f"{document_prefix(owner_id, document_id)}thumbnails/"


def thumbnail(owner_id: str, document_id: str, content_hash: str, size: int) -> str:
    """The thumbnail ``size`` pixels on its longer side of the bytes whose content hash is
    ``content_hash``: content-addressed, so what is stored at a key never changes (served as
    immutable), and a version whose bytes were seen before (a restore) finds its thumbnails made.
    Under the document: no other document shares it, and deleting the document deletes it."""
    return f"{thumbnails(owner_id, document_id)}{content_hash}/{size}.webp"


def document_prefix(owner_id: str, document_id: str) -> str:
    """Everything stored for a document but its staging object: deleting the document deletes it."""
    return f"{owner_id}/{document_id}/"
