"""Versions: an upload in mode OVERWRITE or UPDATE adds a version to the document at its path;
restoring one makes a new current version; every version counts, retention frees the oldest."""

from __future__ import annotations

import functools

import pytest
from ulid import ULID

from domain.changes import ChangeKind
from domain.plans import Plan
from models import accounts, changes, counters, documents, keys, processing, uploads
from models.documents import Document
from models.errors import DocumentNotFound, UploadRejected, VersionConflict, VersionNotFound
from models.paths import PathClaim
from models.version_rows import Version
from models.version_uploads import VersionUpload
from services import uploads as upload_files
from services import versions
from services.documents import _delete
from tests.client import post_form
from tests.conftest import documents_of, objects_under, staged, stored
from tests.races import ContextPool, racing
from tests.services.test_multipart import open_uploads, put_part


def new_account() -> accounts.Account:
    return accounts.create(
        email=f"versions-{ULID()}@example.com".lower(), password_hash="x", plan="FREE", home_region="us-west-2"
    )


def ready(store, account, content: bytes, name: str = "notes.txt") -> Document:
    """A READY document of ``content``, counted as the pipeline counts it."""
    record = stored(store, account, content, "text/plain", name)
    assert processing.count(record, plan=Plan.FREE, content_type="text/plain")
    assert processing.finish(record)
    return Document.get(account.id, record.document_id, consistent_read=True)


def start(account, mode: str, content: bytes, *, if_version: int | None = None, keep: int = 10, path="/notes.txt"):
    """``requestUpload``'s records in ``mode`` (no form signed): the upload record."""
    begin = functools.partial(
        uploads.start,
        account,
        document_id=str(ULID()),
        name="notes.txt",
        path=path,
        content_type="text/plain",
        size=len(content),
        tags=[],
        description="",
        form_seconds=90,
        sweep_grace_seconds=30,
    )
    return versions.start(begin, mode, if_version, keep)


def post(store, record: Document, content: bytes) -> None:
    form = store.upload_post(
        record.object_key, content_type="text/plain", max_bytes=len(content), metadata={}, expires_in=90
    )
    post_form({"url": form.url, "fields": [{"name": k, "value": v} for k, v in form.fields.items()]}, content)


def upload_version(store, account, content: bytes, **options) -> Document:
    record = start(account, "OVERWRITE" if "if_version" not in options else "UPDATE", content, **options)
    post(store, record, content)
    return upload_files.complete(store, account.id, record.document_id)


def body(store, key: str) -> bytes:
    return store.client.get_object(Bucket=store.bucket, Key=key)["Body"].read()


def listed(account, document_id: str) -> list[tuple[int, int, bool]]:
    _, history = versions.history(account.id, document_id)
    return [(entry.version, entry.size, entry.current) for entry in history]


def usage(account) -> tuple[int, int, int, int]:
    fresh = accounts.get(account.id)
    return int(fresh.used_bytes), int(fresh.reserved_bytes), int(fresh.allocated_bytes), int(fresh.document_count)


def test_overwrite_adds_a_version_and_keeps_serving_the_old_one_until_it_is_processed(target, store) -> None:
    account = new_account()
    first = ready(store, account, b"one" * 1000)

    record = start(account, "OVERWRITE", b"two" * 2000)
    # The upload is not a document of the listing and claims nothing: the path stays the first's.
    assert (record.version_of, record.path, record.path_key) == (first.document_id, "/notes.txt", None)
    assert [claim.document_id for claim in PathClaim.query(account.id)] == [first.document_id]
    assert usage(account) == (3000, 6000, 9000, 1)
    post(store, record, b"two" * 2000)

    document = upload_files.complete(store, account.id, record.document_id)

    # As the transaction wrote it, not read again: what a read finds.
    assert (
        document.attribute_values == Document.get(account.id, first.document_id, consistent_read=True).attribute_values
    )
    assert (document.document_id, document.status, document.current_version) == (first.document_id, "PROCESSING", 2)
    assert (body(store, document.object_key), body(store, document.served)) == (b"two" * 2000, b"one" * 1000)
    assert listed(account, first.document_id) == [(2, 6000, True), (1, 3000, False)]
    assert usage(account) == (9000, 0, 9000, 1)  # both versions count; still one document
    assert uploads.read(account.id, record.document_id) is None
    assert [item.document_id for item in documents_of(account.id)] == [first.document_id]
    assert processing.finish(document)
    assert Document.get(account.id, first.document_id).served == document.object_key


def test_overwrite_to_a_free_path_starts_a_document_there(target, store) -> None:
    account = new_account()

    record = start(account, "OVERWRITE", b"x" * 10, path="/new.txt")

    assert (record.version_of, record.path) == (None, "/new.txt")
    assert [claim.document_id for claim in PathClaim.query(account.id)] == [record.document_id]


def test_update_with_a_stale_version_is_a_conflict_and_reserves_nothing(target, store) -> None:
    account = new_account()
    first = ready(store, account, b"one" * 10)
    upload_version(store, account, b"two" * 10)

    with pytest.raises(VersionConflict) as conflict:
        start(account, "UPDATE", b"three", if_version=1)

    assert conflict.value.current_version == 2
    assert usage(account) == (60, 0, 60, 1)
    assert [item.document_id for item in documents_of(account.id)] == [first.document_id]


def test_update_to_a_free_path_is_a_conflict_with_no_version(target, store) -> None:
    account = new_account()

    with pytest.raises(VersionConflict) as conflict:
        start(account, "UPDATE", b"x", if_version=1, path="/nothing.txt")

    assert conflict.value.current_version is None
    assert usage(account) == (0, 0, 0, 0)
    assert documents_of(account.id) == []


def test_update_overtaken_before_completion_is_rejected_and_keeps_nothing(target, store) -> None:
    account = new_account()
    first = ready(store, account, b"one" * 10)
    record = start(account, "UPDATE", b"mine", if_version=1)
    post(store, record, b"mine")
    upload_version(store, account, b"theirs" * 10)  # version 2 lands first
    Document(owner_id=account.id, document_id=first.document_id).update(actions=[Document.status.set("READY")])

    with pytest.raises(UploadRejected) as rejected:
        upload_files.complete(store, account.id, record.document_id)

    assert rejected.value.reason == uploads.VERSION_CONFLICT
    assert listed(account, first.document_id) == [(2, 60, True), (1, 30, False)]
    assert usage(account) == (90, 0, 90, 1)
    kept = {item["Key"] for item in objects_under(store, account.id)}
    assert kept == {Document.get(account.id, first.document_id).object_key, first.object_key}


def version_upload_rows(account) -> list[str]:
    return [row.upload_id for row in VersionUpload.query(account.id, consistent_read=True)]


def feed_of(account) -> list[tuple[int, ChangeKind, int | None]]:
    rows, more = changes.page(account.id, 0, 100)
    assert more is False
    return [(change.sequence, change.kind, change.version) for change in rows]


def test_deleting_a_document_cancels_its_pending_version_upload_at_once(target, store) -> None:
    account = new_account()
    first = ready(store, account, b"one" * 10)
    record = start(account, "OVERWRITE", b"two" * 10)
    post(store, record, b"two" * 10)
    assert usage(account) == (30, 30, 60, 1)
    assert version_upload_rows(account) == [record.document_id]

    recorded: list[changes.Change] = []
    assert _delete(store, account.id, first.document_id, [], recorded) == 60  # the version and the reservation

    assert [change.kind for change in recorded] == [ChangeKind.DELETED]
    assert usage(account) == (0, 0, 0, 0)
    assert objects_under(store, account.id) == []
    assert record.document_id not in staged(store, account.id)  # what the form posted is deleted
    assert list(Version.query(account.id)) == []
    assert list(PathClaim.query(account.id)) == []
    assert version_upload_rows(account) == []
    # Its form can still post until it expires, but completing it finds no upload and counts nothing.
    post(store, record, b"two" * 10)
    with pytest.raises(DocumentNotFound):
        upload_files.complete(store, account.id, record.document_id)
    assert usage(account) == (0, 0, 0, 0)
    assert objects_under(store, account.id) == []
    assert feed_of(account) == [(1, ChangeKind.CREATED, None), (2, ChangeKind.DELETED, None)]


def start_multipart(store, account, size: int, part_size: int = 5 * 1024**2) -> Document:
    """``requestMultipartUpload``'s records in mode OVERWRITE to /notes.txt, S3's upload started."""
    upload_id = str(ULID())
    key = keys.original(account.id, upload_id, keys.nonce())
    begin = functools.partial(
        uploads.start,
        account,
        document_id=upload_id,
        name="notes.txt",
        path="/notes.txt",
        content_type="text/plain",
        size=size,
        tags=[],
        description="",
        form_seconds=24 * 3600,
        sweep_grace_seconds=30,
        multipart=uploads.Multipart(key, store.start_multipart(key, content_type="text/plain"), part_size),
    )
    return versions.start(begin, "OVERWRITE", None, 10)


def test_deleting_a_document_aborts_its_pending_multipart_version_upload(target, store) -> None:
    account = new_account()
    first = ready(store, account, b"one" * 10)
    record = start_multipart(store, account, 2000)
    upload_id = record.document_id
    etag = put_part(store, record, 1, b"x" * 2000)
    assert usage(account) == (30, 2000, 2030, 1)

    assert _delete(store, account.id, first.document_id, [], []) == 2030

    assert usage(account) == (0, 0, 0, 0)
    assert open_uploads(store, account.id) == []
    assert objects_under(store, account.id) == []
    assert documents_of(account.id) == []  # the upload's record too, as abortUpload leaves it
    assert version_upload_rows(account) == []
    with pytest.raises(DocumentNotFound):
        upload_files.complete(store, account.id, upload_id, parts=[(1, etag)])
    assert usage(account) == (0, 0, 0, 0)
    assert objects_under(store, account.id) == []


def test_a_multipart_version_completed_while_its_document_is_deleted_is_deleted_with_it(target, store) -> None:
    """The delete read the document at version 1; the version lands before its transaction, which
    is refused and read again: the delete frees and deletes what the document is then."""
    account = new_account()
    first = ready(store, account, b"one" * 10)
    record = start_multipart(store, account, 2000)
    etag = put_part(store, record, 1, b"x" * 2000)

    def complete(_: int) -> None:
        upload_files.complete(store, account.id, record.document_id, parts=[(1, etag)])

    with racing(account.id, complete, times=1):
        freed = _delete(store, account.id, first.document_id, [], [])

    assert freed == 30 + 2000
    assert usage(account) == (0, 0, 0, 0)
    assert objects_under(store, account.id) == []  # the assembled version's object too
    assert open_uploads(store, account.id) == []
    assert list(Version.query(account.id)) == []
    assert version_upload_rows(account) == []
    assert documents_of(account.id) == []
    assert feed_of(account) == [
        (1, ChangeKind.CREATED, None),
        (2, ChangeKind.NEW_VERSION, 2),
        (3, ChangeKind.DELETED, None),
    ]


@pytest.mark.parametrize(
    ("parts", "reason"),
    [
        pytest.param(
            lambda store, record: [(1, put_part(store, record, 1, b"x" * 2001))], uploads.TOO_LARGE, id="larger"
        ),
        pytest.param(lambda store, record: [(1, "0" * 32)], uploads.PARTS_MISMATCH, id="never-put"),
    ],
)
def test_a_multipart_version_with_wrong_parts_is_rejected_and_changes_nothing(target, store, parts, reason) -> None:
    account = new_account()
    first = ready(store, account, b"one" * 10)
    record = start_multipart(store, account, 2000)
    named = parts(store, record)

    with pytest.raises(UploadRejected) as rejected:
        upload_files.complete(store, account.id, record.document_id, parts=named)

    assert rejected.value.reason == reason
    assert usage(account) == (30, 0, 30, 1)
    assert listed(account, first.document_id) == [(1, 30, True)]
    assert [item["Key"] for item in objects_under(store, account.id)] == [first.object_key]
    assert open_uploads(store, account.id) == []
    assert version_upload_rows(account) == []
    assert feed_of(account) == [(1, ChangeKind.CREATED, None)]


def test_a_delete_landing_while_a_version_upload_completes_leaves_nothing(target, store) -> None:
    account = new_account()
    first = ready(store, account, b"one" * 10)
    record = start(account, "OVERWRITE", b"two" * 10)
    post(store, record, b"two" * 10)

    def delete(_: int) -> None:  # between the completion's read of the document and its transaction
        assert _delete(store, account.id, first.document_id, [], []) == 60

    # The delete cancelled the upload: there is no upload to complete.
    with racing(account.id, delete, times=1) as racer, pytest.raises(DocumentNotFound):
        upload_files.complete(store, account.id, record.document_id)

    assert racer.requests == 1  # the completion's one transaction, sent after the delete and refused
    assert usage(account) == (0, 0, 0, 0)
    assert objects_under(store, account.id) == []  # the copy the completion made is deleted too
    assert list(Version.query(account.id)) == []
    assert version_upload_rows(account) == []
    assert feed_of(account) == [(1, ChangeKind.CREATED, None), (2, ChangeKind.DELETED, None)]


@pytest.mark.parametrize("mode", ["OVERWRITE", "UPDATE"])
def test_a_delete_landing_while_a_version_upload_starts_leaves_no_version_upload(target, store, mode) -> None:
    account = new_account()
    first = ready(store, account, b"one" * 10)

    def delete(number: int) -> None:  # before the transaction that starts the version upload
        if number == (2 if mode == "OVERWRITE" else 1):  # OVERWRITE first tries the path as ADD does
            assert _delete(store, account.id, first.document_id, [], []) == 30

    with racing(account.id, delete, times=2):
        if mode == "UPDATE":
            with pytest.raises(VersionConflict) as conflict:
                start(account, mode, b"two" * 10, if_version=1)
            assert conflict.value.current_version is None
        else:
            record = start(account, mode, b"two" * 10)

    assert version_upload_rows(account) == []
    assert list(Version.query(account.id)) == []
    if mode == "UPDATE":
        assert usage(account) == (0, 0, 0, 0)
        assert documents_of(account.id) == []
    else:  # the path is free again: the upload is a new document there
        assert (record.version_of, record.path, record.status) == (None, "/notes.txt", "PENDING_UPLOAD")
        assert usage(account) == (0, 30, 30, 0)
        assert [item.document_id for item in documents_of(account.id)] == [record.document_id]
        assert [claim.document_id for claim in PathClaim.query(account.id)] == [record.document_id]
    assert feed_of(account) == [(1, ChangeKind.CREATED, None), (2, ChangeKind.DELETED, None)]


def test_version_uploads_completing_while_their_document_is_deleted_leave_nothing(target, store) -> None:
    """Threads at once: three version uploads complete while the document is deleted. Whoever
    wins, the delete takes every version counted, the others are rejected or cancelled, and
    nothing is reserved, counted or stored afterwards; the feed has no gap."""
    account = new_account()
    first = ready(store, account, b"one" * 10)
    records = [start(account, "OVERWRITE", bytes([65 + n]) * (10 + n)) for n in range(3)]
    for n, record in enumerate(records):
        post(store, record, bytes([65 + n]) * (10 + n))

    def complete(record):
        try:
            return upload_files.complete(store, account.id, record.document_id).current_version
        except (UploadRejected, DocumentNotFound) as error:
            return type(error).__name__

    with ContextPool(max_workers=4) as pool:
        completions = [pool.submit(complete, record) for record in records]
        deleted = pool.submit(_delete, store, account.id, first.document_id, [], [])
        outcomes = [future.result() for future in completions]
        freed = deleted.result()

    sizes = [10, 11, 12]
    # The delete frees the first version, a version counted before it, and the reservations it
    # cancelled (those completions find no upload); a completion that came later rejected its own.
    assert freed == 30 + sum(
        size for size, outcome in zip(sizes, outcomes, strict=True) if outcome in (2, "DocumentNotFound")
    )
    assert outcomes.count(2) <= 1  # at most one became version 2 before the delete took it
    assert set(outcomes) <= {2, "UploadRejected", "DocumentNotFound"}
    assert usage(account) == (0, 0, 0, 0)
    assert objects_under(store, account.id) == []
    assert list(Version.query(account.id)) == []
    assert version_upload_rows(account) == []
    left = sorted((item.status, item.failure_reason) for item in documents_of(account.id))
    assert left == sorted(
        [("REJECTED", uploads.DOCUMENT_CHANGED)] * outcomes.count("UploadRejected")
        + [("REJECTED", "CANCELLED")] * outcomes.count("DocumentNotFound")
    )
    feed = feed_of(account)
    assert [sequence for sequence, _, _ in feed] == list(range(1, len(feed) + 1))
    assert feed[0][1] == ChangeKind.CREATED
    assert feed[-1][1] == ChangeKind.DELETED
    assert [kind for _, kind, _ in feed[1:-1]] == [ChangeKind.NEW_VERSION] * outcomes.count(2)


def test_a_delete_frees_every_version(target, store) -> None:
    account = new_account()
    first = ready(store, account, b"one" * 10)
    second = upload_version(store, account, b"two" * 20)
    assert processing.finish(second)

    assert _delete(store, account.id, first.document_id, [], []) == 90

    assert usage(account) == (0, 0, 0, 0)
    assert objects_under(store, account.id) == []
    assert list(Version.query(account.id)) == []
    with pytest.raises(DocumentNotFound):
        versions.history(account.id, first.document_id)


def test_a_delete_if_version_overtaken_by_a_new_version_is_a_conflict_and_deletes_nothing(target, store) -> None:
    account = new_account()
    first = ready(store, account, b"one" * 10)
    read_before = Document.get(account.id, first.document_id, consistent_read=True)
    second = upload_version(store, account, b"two" * 20)  # made after the delete read the record
    assert processing.finish(second)
    before = usage(account)

    # The transaction holds the record at the version read (1); its retry reads version 2.
    with pytest.raises(VersionConflict) as conflict:
        documents.delete_stored(read_before, if_version=1)

    assert conflict.value.current_version == 2
    assert usage(account) == before == (90, 0, 90, 1)
    assert listed(account, first.document_id) == [(2, 60, True), (1, 30, False)]
    assert [claim.document_id for claim in PathClaim.query(account.id)] == [first.document_id]
    assert _delete(store, account.id, first.document_id, [], [], 2) == 90
    assert usage(account) == (0, 0, 0, 0)


def test_restore_makes_a_new_current_version_with_the_old_bytes(target, store, settings) -> None:
    account = new_account()
    first = ready(store, account, b"one" * 10)
    assert processing.finish(upload_version(store, account, b"two" * 20))

    added = versions._restore(store, account, first.document_id, 1, keep=10)

    document = added.document
    # As the transaction wrote it (restoreVersion answers it), not read again: what a read finds.
    assert (
        document.attribute_values == Document.get(account.id, first.document_id, consistent_read=True).attribute_values
    )
    assert (document.current_version, document.status, body(store, document.object_key)) == (
        3,
        "PROCESSING",
        b"one" * 10,
    )
    assert document.object_key != first.object_key  # a copy of its own: retention may delete version 1's
    assert body(store, document.served) == b"two" * 20
    assert listed(account, first.document_id) == [(3, 30, True), (2, 60, False), (1, 30, False)]
    assert usage(account) == (120, 0, 120, 1)
    # The feed has each, numbered in order, in the transactions that made them.
    feed, more = changes.page(account.id, 0, 10)
    assert more is False
    assert [(change.sequence, change.kind, change.version, change.path) for change in feed] == [
        (1, ChangeKind.CREATED, None, "/notes.txt"),
        (2, ChangeKind.NEW_VERSION, 2, "/notes.txt"),
        (3, ChangeKind.RESTORED, 3, "/notes.txt"),
    ]
    assert added.change == feed[2]


def test_restore_of_a_version_not_kept_changes_nothing(target, store) -> None:
    account = new_account()
    first = ready(store, account, b"one" * 10)

    for version in (1, 7):  # the current one, and one it never had
        with pytest.raises(VersionNotFound):
            versions._restore(store, account, first.document_id, version, keep=10)

    assert listed(account, first.document_id) == [(1, 30, True)]
    assert usage(account) == (30, 0, 30, 1)
    assert [item["Key"] for item in objects_under(store, account.id)] == [first.object_key]


def test_restore_of_another_accounts_document_is_not_found_and_changes_nothing(target, store) -> None:
    owner, other = new_account(), new_account()
    first = ready(store, owner, b"one" * 10)
    assert processing.finish(upload_version(store, owner, b"two" * 20))

    with pytest.raises(DocumentNotFound):
        versions._restore(store, other, first.document_id, 1, keep=10)
    with pytest.raises(DocumentNotFound):
        versions.history(other.id, first.document_id)

    assert listed(owner, first.document_id) == [(2, 60, True), (1, 30, False)]
    assert usage(owner) == (90, 0, 90, 1)
    assert usage(other) == (0, 0, 0, 0)


class NewVersionDuringCopy:
    """The session's S3, where a new version lands (``then``) right after a restore copied its bytes."""

    def __init__(self, store, then) -> None:
        self.store = store
        self.then = then

    def __getattr__(self, name: str):
        return getattr(self.store, name)

    def copy(self, source: str, destination: str):
        info = self.store.copy(source, destination)
        then, self.then = self.then, None
        if then is not None:
            then()
        return info


def test_a_restore_racing_a_new_version_keeps_both_in_order(target, store) -> None:
    account = new_account()
    first = ready(store, account, b"one" * 10)
    assert processing.finish(upload_version(store, account, b"two" * 20))

    def new_version() -> None:
        assert processing.finish(upload_version(store, account, b"three" * 10))

    added = versions._restore(NewVersionDuringCopy(store, new_version), account, first.document_id, 1, keep=10)

    assert added.document.current_version == 4
    assert listed(account, first.document_id) == [(4, 30, True), (3, 50, False), (2, 60, False), (1, 30, False)]
    feed, _ = changes.page(account.id, 0, 10)
    assert [(change.kind, change.version) for change in feed] == [
        (ChangeKind.CREATED, None),
        (ChangeKind.NEW_VERSION, 2),
        (ChangeKind.NEW_VERSION, 3),
        (ChangeKind.RESTORED, 4),
    ]
    assert usage(account) == (170, 0, 170, 1)
    # The copy of the attempt that lost the race was deleted: one object a version.
    assert len(objects_under(store, account.id)) == 4


def test_a_version_past_the_retention_is_deleted_with_its_bytes(target, store, own_tables) -> None:
    account = new_account()
    first = ready(store, account, b"one" * 10)
    assert counters.read(counters.ALL)[:2] == (1, 30)
    assert processing.finish(upload_version(store, account, b"two" * 20, keep=2))

    third = upload_version(store, account, b"three" * 10, keep=2)

    assert listed(account, first.document_id) == [(3, 50, True), (2, 60, False)]
    assert usage(account) == (110, 0, 110, 1)
    assert store.head(first.object_key) is None
    assert len(objects_under(store, account.id)) == 2
    assert third.current_version == 3
    assert counters.read(counters.ALL)[:2] == (1, 110)  # bytes follow the versions kept; one document


def test_the_recount_finds_the_counters_exact_with_every_version_counted(target, store, own_tables) -> None:
    from models import recount

    account = new_account()
    first = ready(store, account, b"one" * 10)
    assert processing.finish(upload_version(store, account, b"two" * 20))

    result = recount.recount(repair=False)

    assert not result.drift
    assert counters.read(counters.ALL)[:2] == (1, 90)
    assert {check.name: check.outcome for check in result.counters}[counters.ALL] == recount.EXACT
    assert first.document_id


def test_a_new_version_completing_while_a_restore_lands_is_rejected_and_keeps_nothing(target, store) -> None:
    """The restore commits between the completion's read of the document and its transaction: the
    completion reads again, finds the restored version in progress, and is rejected."""
    account = new_account()
    first = ready(store, account, b"one" * 10)
    assert processing.finish(upload_version(store, account, b"two" * 20))
    record = start(account, "OVERWRITE", b"three" * 10)
    post(store, record, b"three" * 10)

    def restore(_: int) -> None:
        versions._restore(store, account, first.document_id, 1, keep=10)

    with racing(account.id, restore, times=1), pytest.raises(UploadRejected) as rejected:
        upload_files.complete(store, account.id, record.document_id)

    assert rejected.value.reason == uploads.DOCUMENT_CHANGED
    assert listed(account, first.document_id) == [(3, 30, True), (2, 60, False), (1, 30, False)]
    assert usage(account) == (120, 0, 120, 1)
    assert len(objects_under(store, account.id)) == 3  # one a version: the rejected upload's copy is gone
    assert version_upload_rows(account) == []
    assert feed_of(account) == [
        (1, ChangeKind.CREATED, None),
        (2, ChangeKind.NEW_VERSION, 2),
        (3, ChangeKind.RESTORED, 3),
    ]


def test_a_restore_and_a_new_version_at_once_make_exactly_one_version(target, store) -> None:
    """Threads at once: whichever commits first is version 3; the other finds the document busy
    with it (the restore: VersionConflict; the upload: rejected DOCUMENT_CHANGED) and keeps nothing."""
    account = new_account()
    first = ready(store, account, b"one" * 10)
    assert processing.finish(upload_version(store, account, b"two" * 20))
    record = start(account, "OVERWRITE", b"three" * 10)
    post(store, record, b"three" * 10)

    def restore():
        try:
            return versions._restore(store, account, first.document_id, 1, keep=10).document.current_version
        except VersionConflict:
            return "conflict"

    def complete():
        try:
            return upload_files.complete(store, account.id, record.document_id).current_version
        except UploadRejected as rejection:
            return rejection.reason

    with ContextPool(max_workers=2) as pool:
        restored, completed = pool.submit(restore), pool.submit(complete)
        outcome = (restored.result(), completed.result())

    assert outcome in ((3, uploads.DOCUMENT_CHANGED), ("conflict", 3))
    restore_won = outcome[0] == 3
    third = 30 if restore_won else 50
    assert listed(account, first.document_id) == [(3, third, True), (2, 60, False), (1, 30, False)]
    assert usage(account) == (90 + third, 0, 90 + third, 1)
    assert len(objects_under(store, account.id)) == 3
    assert version_upload_rows(account) == []
    kind = ChangeKind.RESTORED if restore_won else ChangeKind.NEW_VERSION
    assert feed_of(account) == [(1, ChangeKind.CREATED, None), (2, ChangeKind.NEW_VERSION, 2), (3, kind, 3)]


def test_an_update_whose_version_moves_on_before_it_starts_is_a_conflict_and_reserves_nothing(target, store) -> None:
    """UPDATE read the document at version 1; version 2 lands before its transaction, which checks
    the version and is refused."""
    account = new_account()
    first = ready(store, account, b"one" * 10)

    def new_version(_: int) -> None:
        assert processing.finish(upload_version(store, account, b"two" * 20))

    with racing(account.id, new_version, times=1), pytest.raises(VersionConflict) as conflict:
        start(account, "UPDATE", b"mine", if_version=1)

    assert conflict.value.current_version == 2
    assert usage(account) == (90, 0, 90, 1)
    assert [item.document_id for item in documents_of(account.id)] == [first.document_id]
    assert version_upload_rows(account) == []
    assert listed(account, first.document_id) == [(2, 60, True), (1, 30, False)]
    assert feed_of(account) == [(1, ChangeKind.CREATED, None), (2, ChangeKind.NEW_VERSION, 2)]
