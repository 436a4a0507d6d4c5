"""Thumbnails through the pipeline, wired as production wires it, on moto's S3 and the real
extraction sandbox: made for each version, not counted in the quota, immutable in S3; hostile files
lose only their thumbnail; what no version shows any more is deleted, with the document too."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image

from models import accounts, documents, keys
from services import documents as documents_service
from services import versions as versions_service
from tests import plain_http
from tests.conftest import objects_under, stored
from tests.workers import files
from tests.workers.test_pipeline import Calls, completed, handle, new_account
from tests.workers.test_versions import add_version

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("own_tables")]

SIZES = [256, 1024]


def png(colour: str, size: tuple[int, int] = (2000, 1000)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def thumbnail_keys(store, record: documents.Document) -> list[str]:
    """The keys of every object under the document's thumbnails."""
    prefix = keys.thumbnails(record.owner_id, record.document_id)
    return sorted(item["Key"] for item in objects_under(store, record.owner_id) if item["Key"].startswith(prefix))


def expected(record: documents.Document, content_hash: str) -> list[str]:
    return sorted(keys.thumbnail(record.owner_id, record.document_id, content_hash, size) for size in SIZES)


def counted(wired, outcome: str, reason: str = "") -> float | None:
    """``docstore_thumbnails_total`` of this test's pipeline (a fresh Metrics per test)."""
    return wired.metrics.registry.get_sample_value("docstore_thumbnails_total", {"outcome": outcome, "reason": reason})


def ready_events(recorder, document_id: str) -> list[dict]:
    return [e.data for e in recorder.events if e.type.value == "DocumentReady" and e.document_id == document_id]


async def test_an_image_gets_two_immutable_webp_thumbnails_outside_the_quota(pipeline, wired, recorder, store) -> None:
    account = new_account("FREE")
    content = png("red")
    record = stored(store, account, content, "image/png", name="red.png")

    await handle(pipeline, completed(record))

    final = documents.get(account.id, record.document_id)
    assert (final.status, final.thumbnail_hash, list(final.thumbnail_sizes)) == ("READY", final.content_hash, SIZES)
    assert thumbnail_keys(store, final) == expected(final, final.content_hash)
    for size in SIZES:
        key = keys.thumbnail(account.id, record.document_id, final.content_hash, size)
        # The signed URL the API hands out, fetched as a browser would.
        async with plain_http.AsyncClient() as http:
            response = await http.get(store.image_url(key, expires_in=60))
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/webp"
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        image = Image.open(io.BytesIO(response.content))
        assert (image.format, max(image.size)) == ("WEBP", size)
    # Only the original counts: the thumbnails' bytes are nowhere in the usage.
    assert accounts.get(account.id).used_bytes == len(content)
    assert ready_events(recorder, record.document_id) == [{"content_hash": final.content_hash, "has_thumbnail": True}]
    assert counted(wired, "made") == 1


async def test_a_type_without_thumbnails_gets_none(pipeline, recorder, store, tmp_path: Path) -> None:
    account = new_account("FREE")
    content = files.docx_file(tmp_path / "a.docx").read_bytes()
    docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    record = stored(store, account, content, docx)

    await handle(pipeline, completed(record))

    final = documents.get(account.id, record.document_id)
    assert (final.status, final.thumbnail_hash, final.thumbnail_sizes) == ("READY", None, None)
    assert thumbnail_keys(store, final) == []
    assert ready_events(recorder, record.document_id)[0]["has_thumbnail"] is False


async def test_a_decompression_bomb_loses_only_its_thumbnail(pipeline, wired, recorder, store, tmp_path: Path) -> None:
    account = new_account("FREE")
    content = files.png_claiming(tmp_path / "bomb.png", 50_000, 50_000).read_bytes()
    record = stored(store, account, content, "image/png")

    await handle(pipeline, completed(record))

    final = documents.get(account.id, record.document_id)
    assert (final.status, final.failure_reason, final.thumbnail_hash) == ("READY", None, None)
    assert thumbnail_keys(store, final) == []
    assert accounts.get(account.id).used_bytes == len(content)
    assert ready_events(recorder, record.document_id) == [{"content_hash": final.content_hash, "has_thumbnail": False}]
    assert counted(wired, "failed", "TOO_LARGE") == 1
    assert counted(wired, "made") is None


async def test_a_truncated_video_loses_only_its_thumbnail(pipeline, recorder, store, tmp_path: Path) -> None:
    account = new_account("FREE")
    content = files.truncated_video(tmp_path / "cut.mp4").read_bytes()
    record = stored(store, account, content, "video/mp4")

    await handle(pipeline, completed(record))

    final = documents.get(account.id, record.document_id)
    assert (final.status, final.content_type, final.thumbnail_hash) == ("READY", "video/mp4", None)
    assert thumbnail_keys(store, final) == []
    assert ready_events(recorder, record.document_id)[0]["has_thumbnail"] is False


async def test_a_video_that_never_ends_decoding_is_cut_off_and_the_worker_goes_on(
    pipeline, recorder, store, tmp_path: Path, monkeypatch
) -> None:
    account = new_account("FREE")
    endless = stored(store, account, files.video_file(tmp_path / "clip.mp4", "blue").read_bytes(), "video/mp4")
    # An ffmpeg that loops on it, at the process boundary (the real one reads this file at once).
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "ffmpeg").write_text("#!/bin/sh\nwhile :; do :; done\n")
    (fake / "ffmpeg").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(pipeline, "thumbnail_seconds", 2)

    await handle(pipeline, completed(endless))
    after = stored(store, account, png("green"), "image/png")
    await handle(pipeline, completed(after))

    first = documents.get(account.id, endless.document_id)
    assert (first.status, first.thumbnail_hash) == ("READY", None)
    assert thumbnail_keys(store, first) == []
    second = documents.get(account.id, after.document_id)
    assert (second.status, second.thumbnail_hash) == ("READY", second.content_hash)
    assert thumbnail_keys(store, second) == expected(second, second.content_hash)


async def test_a_new_version_gets_its_own_thumbnails_and_a_restore_reuses_the_first(
    pipeline, wired, recorder, store, monkeypatch
) -> None:
    account = new_account("FREE")
    first = stored(store, account, png("red"), "image/png", name="picture.png")
    await handle(pipeline, completed(first))
    red = documents.get(account.id, first.document_id).content_hash

    second = add_version(store, account, first, png("blue"), "image/png")
    # While the new version is processed, the previous one's thumbnails are still shown.
    assert documents.get(account.id, first.document_id).thumbnail_hash == red
    await handle(pipeline, completed(second))
    blue = documents.get(account.id, first.document_id).content_hash
    assert documents.get(account.id, first.document_id).thumbnail_hash == blue
    # Both versions are kept, and so are both versions' thumbnails.
    final = documents.get(account.id, first.document_id)
    assert thumbnail_keys(store, final) == sorted(expected(final, red) + expected(final, blue))

    calls = Calls(first.document_id)
    calls.watch(monkeypatch)
    versions_service._restore(store, account, first.document_id, 1, 10)
    await handle(pipeline, completed(first))

    restored = documents.get(account.id, first.document_id)
    assert (restored.status, restored.version, restored.content_hash, restored.thumbnail_hash) == (
        "READY",
        3,
        red,
        red,
    )
    assert (counted(wired, "made"), counted(wired, "reused")) == (2, 1)
    puts = [request for operation, request in calls.of("s3") if operation == "PutObject"]
    assert [put for put in puts if "/thumbnails/" in put] == []  # found made, not made again
    assert thumbnail_keys(store, restored) == sorted(expected(restored, red) + expected(restored, blue))


async def test_the_thumbnails_of_a_version_past_the_retention_are_deleted(pipeline, store) -> None:
    account = new_account("FREE")
    first = stored(store, account, png("red"), "image/png", name="picture.png")
    await handle(pipeline, completed(first))
    red = documents.get(account.id, first.document_id).content_hash
    await handle(pipeline, completed(add_version(store, account, first, png("blue"), "image/png", keep=2)))
    blue = documents.get(account.id, first.document_id).content_hash
    record = documents.get(account.id, first.document_id)
    assert thumbnail_keys(store, record) == sorted(expected(record, red) + expected(record, blue))

    # Keeping two versions, the third drops the first, and its thumbnails with it.
    await handle(pipeline, completed(add_version(store, account, first, png("green"), "image/png", keep=2)))

    final = documents.get(account.id, first.document_id)
    assert (final.status, final.version) == ("READY", 3)
    assert thumbnail_keys(store, final) == sorted(expected(final, blue) + expected(final, final.content_hash))
    assert red not in {final.content_hash, blue}


async def test_deleting_a_document_deletes_its_thumbnails_not_those_of_the_same_bytes_elsewhere(
    pipeline, store
) -> None:
    account = new_account("FREE")
    content = png("red")
    one = stored(store, account, content, "image/png", name="one.png")
    two = stored(store, account, content, "image/png", name="two.png")
    await handle(pipeline, completed(one))
    await handle(pipeline, completed(two))
    kept = documents.get(account.id, two.document_id)
    assert len(thumbnail_keys(store, documents.get(account.id, one.document_id))) == 2

    documents_service._delete(store, account.id, one.document_id, [], [])

    assert thumbnail_keys(store, one) == []
    # The same bytes in another document: its own thumbnails, under its own keys, still there.
    assert thumbnail_keys(store, kept) == expected(kept, kept.content_hash)


async def test_a_document_deleted_while_its_thumbnails_are_made_leaves_none(pipeline, store, monkeypatch) -> None:
    account = new_account("FREE")
    record = stored(store, account, png("red"), "image/png")
    made = pipeline.extraction.thumbnails

    async def then_deleted(*args, **kwargs):
        rendered = await made(*args, **kwargs)
        documents_service._delete(store, account.id, record.document_id, [], [])
        return rendered

    monkeypatch.setattr(pipeline.extraction, "thumbnails", then_deleted)

    await handle(pipeline, completed(record))

    with pytest.raises(documents.DocumentNotFound):
        documents.get(account.id, record.document_id)
    assert thumbnail_keys(store, record) == []
