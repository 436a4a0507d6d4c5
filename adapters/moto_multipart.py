"""Patches of moto 5.2.5's S3 multipart uploads, carried by DocStore until moto has them: S3's
answer for an upload that is gone, and an assembly that does not hold the file in memory.

- ``upload_part`` and ``complete_multipart_upload`` look the upload id up with ``[]``: for an
  upload that was completed or aborted, moto answers 500 (a ``KeyError``) where S3 answers 404
  ``NoSuchUpload``. DocStore relies on that answer: a part URL used again after completion must be
  refused, and a completion that lost a race to another must hear that the upload is gone.
  Patched, both raise moto's own ``NoSuchUpload``.
- ``FakeMultipart.complete`` joins every part into one ``bytearray`` and then ``bytes`` (twice
  the file in memory: 10 GiB for a 5 GiB upload) before ``put_object`` writes it out. Patched,
  ``complete_multipart_upload`` makes the same checks in the same order (``InvalidPart``,
  ``EntityTooSmall``, ``MalformedXML``), computes the same ETag (MD5 of the parts' MD5s, ``-N``),
  puts the key empty and then appends each part's bytes to the key's value in 8 MiB chunks,
  so memory stays at one chunk; only then does it forget the upload, which disposes of the parts
  (moto forgets it before ``put_object``, having joined the bytes already). With the embedded
  AWS's blob files (``moto_blobs``) the parts' files go once the change is committed. An upload
  started with a checksum algorithm (which needs every byte hashed in order) is left to moto's own
  method. Everything else is moto's code, in moto's order.

Written against one moto version, refused on any other (:class:`UnsupportedMoto`), as
``adapters/moto_patches.py`` is. docs/MOTO_UPSTREAM.md has the write-up for moto's maintainers.
"""

from __future__ import annotations

import codecs
import threading
from typing import TYPE_CHECKING, Any

import moto
from moto.s3 import notifications
from moto.s3.exceptions import EntityTooSmall, InvalidPart, MalformedXML, NoSuchUpload
from moto.s3.models import FakeKey, S3Backend
from moto.settings import S3_UPLOAD_PART_MIN_SIZE
from moto.utilities.utils import md5_hash

from adapters.moto_patches import MOTO_VERSION, UnsupportedMoto

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from moto.s3.models import FakeMultipart

#: How much of a part is read at once while appending it to the assembled key.
CHUNK = 8 * 1024 * 1024

_ORIGINAL: dict[str, Callable[..., Any]] = {}
_LOCK = threading.Lock()


def install() -> None:
    """Replace moto's methods by the patched ones; a second call does nothing.

    Raises :class:`UnsupportedMoto` (and changes nothing) on any moto but :data:`MOTO_VERSION`.
    """
    installed_version = getattr(moto, "__version__", "unknown")
    if installed_version != MOTO_VERSION:
        raise UnsupportedMoto(
            f"adapters/moto_multipart.py patches moto {MOTO_VERSION}'s S3 multipart uploads, but moto "
            f"{installed_version} is installed: pin moto[server]=={MOTO_VERSION} (pyproject.toml) or port "
            "the patch to this release (docs/MOTO_UPSTREAM.md)."
        )
    with _LOCK:
        if not _ORIGINAL:
            _ORIGINAL["upload_part"] = S3Backend.upload_part
            _ORIGINAL["complete_multipart_upload"] = S3Backend.complete_multipart_upload
            S3Backend.upload_part = upload_part  # type: ignore[method-assign]
            S3Backend.complete_multipart_upload = complete_multipart_upload  # type: ignore[method-assign]


def uninstall() -> None:
    """Put moto's own methods back; idempotent."""
    with _LOCK:
        for name, original in _ORIGINAL.items():
            setattr(S3Backend, name, original)
        _ORIGINAL.clear()


def installed() -> bool:
    return S3Backend.complete_multipart_upload is complete_multipart_upload


def _upload(backend: S3Backend, bucket_name: str, multipart_id: str) -> FakeMultipart:
    multipart: FakeMultipart | None = backend.get_bucket(bucket_name).multiparts.get(multipart_id)
    if multipart is None:
        raise NoSuchUpload(upload_id=multipart_id)
    return multipart


def upload_part(self: S3Backend, bucket_name: str, multipart_id: str, part_id: int, value: bytes) -> FakeKey:
    return _upload(self, bucket_name, multipart_id).set_part(part_id, value)


def _checked_parts(multipart: FakeMultipart, body: Iterator[tuple[int, str]]) -> tuple[list[FakeKey], str]:
    """``FakeMultipart.complete``'s checks, in its order, without joining the bytes: the parts
    named, and the assembled object's ETag."""
    decode_hex = codecs.getdecoder("hex_codec")
    md5s = bytearray()
    parts: list[FakeKey] = []
    last: FakeKey | None = None
    for number, etag in body:
        part = multipart.parts.get(number)
        if part is None or part.etag.replace('"', "") != etag.replace('"', ""):
            raise InvalidPart()
        if last is not None and last.contentsize < S3_UPLOAD_PART_MIN_SIZE:
            raise EntityTooSmall()
        md5s.extend(decode_hex(part.etag.replace('"', ""))[0])  # type: ignore[arg-type]
        parts.append(part)
        last = part
    if not parts:
        raise MalformedXML
    digest = md5_hash()
    digest.update(bytes(md5s))
    return parts, f"{digest.hexdigest()}-{len(parts)}"


def _append(key: FakeKey, parts: list[FakeKey]) -> None:
    """Append each part's bytes to ``key``'s (empty) value, a chunk at a time."""
    buffer = key._value_buffer
    size = 0
    with key.lock:
        buffer.seek(0)
        for part in parts:
            position = 0
            while True:
                with part.lock:
                    part._value_buffer.seek(position)
                    chunk = part._value_buffer.read(CHUNK)
                if not chunk:
                    break
                buffer.write(chunk)
                position += len(chunk)
                size += len(chunk)
        key.contentsize = size


def complete_multipart_upload(
    self: S3Backend, bucket_name: str, multipart_id: str, body: Iterator[tuple[int, str]]
) -> FakeKey | None:
    bucket = self.get_bucket(bucket_name)
    multipart = _upload(self, bucket_name, multipart_id)
    if multipart.metadata.get("x-amz-checksum-algorithm"):
        key: FakeKey | None = _ORIGINAL["complete_multipart_upload"](self, bucket_name, multipart_id, body)
        return key
    parts, etag = _checked_parts(multipart, body)

    key = self.put_object(
        bucket_name,
        multipart.key_name,
        b"",
        storage=multipart.storage,
        etag=etag,
        multipart=multipart,
        encryption=multipart.sse_encryption,
        kms_key_id=multipart.kms_key_id,
    )
    _append(key, parts)
    # Only now: moto's multipart dictionary disposes of the parts (their values) as it forgets them.
    del bucket.multiparts[multipart_id]
    key.set_metadata(multipart.metadata)

    self.put_object_tagging(key, multipart.tags)
    self.put_object_acl(
        bucket_name=bucket_name,
        key_name=key.name,
        acl=multipart.acl,
        disable_notification=True,  # avoid sending ObjectAcl:Put events here
    )

    notifications.send_event(
        self.account_id,
        notifications.S3NotificationEvent.OBJECT_CREATED_COMPLETE_MULTIPART_UPLOAD_EVENT,
        bucket,
        bucket.keys.get(multipart.key_name),
    )
    return key
