"""The pipeline on a new version: the document is processed again as a whole (type, hash, text,
index), its counts change by bytes only, and a new version of a wrong type leaves its history."""

from __future__ import annotations

import functools

import pytest
from ulid import ULID

from models import accounts, counters, documents, uploads
from services import uploads as upload_files
from services import versions
from tests.client import post_form
from tests.conftest import stored
from tests.domain.test_content_hash import independent
from tests.workers.test_pipeline import completed, expired, found, handle, new_account

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("own_tables")]


def add_version(store, account, document, content: bytes, content_type: str, keep: int = 10) -> documents.Document:
    """An OVERWRITE upload of ``content`` to the document's path, posted and completed: PROCESSING;
    the document keeps ``keep`` versions."""
    record = post_version(store, account, document, content, content_type, keep)
    return upload_files.complete(store, account.id, record.document_id)


def post_version(store, account, document, content: bytes, content_type: str, keep: int = 10) -> documents.Document:
    """The same upload posted to its form and never completed: the upload's own record."""
    begin = functools.partial(
        uploads.start,
        account,
        document_id=str(ULID()),
        name=document.name,
        path=document.path,
        content_type=content_type,
        size=len(content),
        tags=[],
        description="",
        form_seconds=90,
        sweep_grace_seconds=30,
    )
    record = versions.start(begin, "OVERWRITE", None, keep)
    form = store.upload_post(
        record.object_key, content_type=content_type, max_bytes=len(content), metadata={}, expires_in=90
    )
    post_form({"url": form.url, "fields": [{"name": k, "value": v} for k, v in form.fields.items()]}, content)
    return record


@pytest.mark.parametrize("finished", ["completeUpload", "form expiry"])
async def test_a_new_version_is_processed_and_searched_in_place_of_the_old(pipeline, wired, store, finished) -> None:
    account = new_account("PREMIUM")
    old, new = b"the aardvarks of the first draft\n" * 50, b"the zeppelins of the second draft\n" * 80
    first = stored(store, account, old, "text/plain", name="draft.txt")
    await handle(pipeline, completed(first))

    upload = post_version(store, account, first, new, "text/plain")
    if finished == "completeUpload":
        await handle(pipeline, completed(upload_files.complete(store, account.id, upload.document_id)))
    else:
        # requestUpload's delayed message, the form expired with no completeUpload: the sweep
        # completes the upload into the document, which is then processed (it stayed PROCESSING
        # for good while the pipeline looked up the upload's own record, gone by then).
        await handle(pipeline, expired(upload))

    final = documents.Document.get(account.id, first.document_id)
    assert (final.status, final.version, final.size, final.served_key) == ("READY", 2, len(new), None)
    assert final.content_hash == independent(new)
    assert documents.Document.count(account.id, documents.Document.document_id == upload.document_id) == 0
    assert found(wired.index, account, "content:zeppelins", content=True) == [first.document_id]
    assert found(wired.index, account, "content:aardvarks", content=True) == []
    assert counters.read(counters.ALL)[:2] == (1, len(old) + len(new))
    fresh = accounts.get(account.id)
    assert (fresh.used_bytes, fresh.document_count, fresh.counted_documents, fresh.counted_bytes) == (
        len(old) + len(new),
        1,
        1,
        len(old) + len(new),
    )


async def test_a_new_version_of_a_wrong_type_fails_and_keeps_the_history(pipeline, wired, store) -> None:
    account = new_account("FREE")
    text = b"plain words\n" * 100
    first = stored(store, account, text, "text/plain", name="notes.txt")
    await handle(pipeline, completed(first))
    elf = b"\x7fELF\x02\x01\x01" + bytes(200)

    second = add_version(store, account, first, elf, "text/plain")
    await handle(pipeline, completed(second))

    final = documents.Document.get(account.id, first.document_id)
    assert (final.status, final.failure_reason, final.version) == ("FAILED", "WRONG_TYPE", 2)
    _, listed = versions.history(account.id, first.document_id)
    assert [(entry.version, entry.size) for entry in listed] == [(2, len(elf)), (1, len(text))]
    assert accounts.get(account.id).used_bytes == len(text) + len(elf)
    assert counters.read(counters.ALL)[:2] == (1, len(text) + len(elf))
    assert counters.read(counters.FAILED)[0] == 1
