"""Document bytes in S3: signed upload forms, object checks, signed downloads."""

from __future__ import annotations

import functools
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime
    from pathlib import Path

    from adapters.aws import AwsTarget


#: How much of an object :meth:`S3ObjectStore.download` holds in memory at a time.
DOWNLOAD_CHUNK = 1024 * 1024
#: The lifecycle rules :meth:`S3ObjectStore.ensure_bucket` keeps, by these IDs.
EXPIRY_RULE_ID = "docstore-staging-expiry"
ABORT_RULE_ID = "docstore-multipart-abort"


@dataclass(frozen=True)
class UploadPost:
    """A presigned S3 POST: the URL to post to and the form fields to send before the file."""

    url: str
    fields: dict[str, str]


@dataclass(frozen=True)
class ObjectCopy:
    """What a backup keeps of an object besides its bytes: what S3 answers a GET with."""

    size: int
    content_type: str
    metadata: dict[str, str]
    #: Its ``Cache-Control`` (thumbnails'), empty when it has none.
    cache_control: str = ""


@dataclass(frozen=True)
class ObjectInfo:
    """What a HEAD request says of an object."""

    size: int
    etag: str
    content_type: str


class Digest(Protocol):
    """What :meth:`ObjectStore.download` feeds the bytes it copies to: a ``hashlib`` object, or
    ``domain.content_hash.ContentHasher``."""

    def update(self, data: bytes, /) -> None: ...


@dataclass(frozen=True)
class UploadedPart:
    """One part S3 holds for a multipart upload in progress (ListParts)."""

    number: int
    etag: str
    size: int


class MultipartRefused(Exception):
    """S3 refused to assemble a multipart upload from the parts named (``InvalidPart``,
    ``InvalidPartOrder``, ``EntityTooSmall``): nothing was assembled, the upload is still open."""


class ObjectStore(Protocol):
    """Where document bytes live. Every method is blocking; call it through ``Blocking.run``."""

    def upload_post(
        self,
        key: str,
        *,
        content_type: str,
        max_bytes: int,
        metadata: dict[str, str],
        expires_in: int,
        redirect_url: str | None = None,
    ) -> UploadPost:
        """Sign a POST form for exactly ``key``: 1 to ``max_bytes`` bytes of ``content_type``.

        ``metadata`` becomes ``x-amz-meta-*`` fields; its values must already be ASCII (an upload's
        are percent-encoded by ``services.validation.metadata_value``). Every field of the form is
        also a condition of its policy, so none can be changed.
        """
        ...

    def head(self, key: str) -> ObjectInfo | None:
        """The object's real size and checksum, or None when there is no such object."""
        ...

    def copy(self, source: str, destination: str) -> ObjectInfo | None:
        """Copy an object inside the bucket, server-side (no bytes pass through this process), with
        its type and metadata; what the copy holds, or None when there is no ``source``.

        The answer describes ``destination`` as written, whatever ``source`` became meanwhile.
        """
        ...

    def delete(self, key: str) -> None:
        """Delete the object; deleting a missing object is not an error."""
        ...

    def start_multipart(self, key: str, *, content_type: str) -> str:
        """Start a multipart upload to ``key`` (CreateMultipartUpload); its upload id."""
        ...

    def part_url(self, key: str, upload_id: str, number: int, *, size: int, expires_in: int) -> str:
        """Sign a PUT of part ``number`` of the upload (UploadPart) of exactly ``size`` bytes: the
        length is a signed header, so S3 refuses a PUT of any other length (``SignatureDoesNotMatch``)
        before storing a byte. No request is made."""
        ...

    def list_parts(self, key: str, upload_id: str) -> list[UploadedPart] | None:
        """The parts S3 holds for the upload, by number; None when there is no such upload
        (never started, completed or aborted)."""
        ...

    def complete_multipart(self, key: str, upload_id: str, parts: Sequence[tuple[int, str]]) -> ObjectInfo | None:
        """Have S3 assemble ``key`` from ``parts`` (number, ETag), in order
        (CompleteMultipartUpload: S3 joins the parts, no bytes pass through this process); what
        the object holds then. None when there is no such upload any more;
        :class:`MultipartRefused` when S3 refuses the parts."""
        ...

    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Abort the upload and free its parts (AbortMultipartUpload); an upload that is gone
        already is not an error."""
        ...

    def download_url(self, key: str, *, filename: str, expires_in: int) -> str:
        """Sign a GET that downloads the object as an attachment named ``filename``."""
        ...

    def image_url(self, key: str, *, expires_in: int) -> str:
        """Sign a GET of the object as stored, to be shown inline (a thumbnail in an ``<img>``)."""
        ...

    def download(self, key: str, path: Path, *, digest: Digest | None = None) -> None:
        """Copy the object's bytes to ``path``, streaming ``DOWNLOAD_CHUNK`` bytes at a time, and
        feed each chunk to ``digest`` as it passes (the pipeline's content hash: no second read)."""
        ...

    def feed(self, key: str, digest: Digest) -> bool:
        """Feed the object's bytes to ``digest``, ``DOWNLOAD_CHUNK`` bytes at a time, storing them
        nowhere; False (nothing fed) when there is no such object."""
        ...

    def put_text(self, key: str, text: str) -> None:
        """Store ``text`` as a UTF-8 ``text/plain`` object (derived objects: extracted text)."""
        ...

    def get_text(self, key: str) -> str | None:
        """The text stored by :meth:`put_text`, or None when there is none."""
        ...

    def put_file(self, key: str, path: Path, *, content_type: str, cache_control: str) -> None:
        """Store the (small) file at ``path`` under ``key`` in one PUT, with the ``Content-Type``
        and ``Cache-Control`` S3 answers its GETs with (derived objects: thumbnails)."""
        ...

    def keys_under(self, prefix: str) -> list[str]:
        """The keys of every object whose key starts with ``prefix``."""
        ...

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object whose key starts with ``prefix``; how many were deleted."""
        ...

    def delete_older(self, prefix: str, before: datetime) -> int:
        """Delete every object under ``prefix`` last written before ``before`` (what a lifecycle
        expiration rule does, for stores that run none); how many were deleted."""
        ...

    def copy_out(self, key: str, path: Path) -> ObjectCopy | None:
        """Stream the object's bytes to ``path``; its type and metadata, or None (and no file)
        when there is no such object (backups)."""
        ...

    def copy_in(self, key: str, path: Path, copy: ObjectCopy) -> None:
        """Store the bytes at ``path`` under ``key`` with ``copy``'s type and metadata (restores)."""
        ...


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback name and the exact name in RFC 5987 form."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _missing(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class S3ObjectStore:
    """:class:`ObjectStore` on one S3 bucket."""

    def __init__(self, target: AwsTarget, bucket: str) -> None:
        self.bucket = bucket
        self.region = target.region
        self._target = target

    @functools.cached_property
    def client(self) -> Any:
        # Built on first use: a command that never touches S3 does not pay for the client.
        return self._target.client("s3")

    def upload_post(
        self,
        key: str,
        *,
        content_type: str,
        max_bytes: int,
        metadata: dict[str, str],
        expires_in: int,
        redirect_url: str | None = None,
    ) -> UploadPost:
        if not all(value.isascii() for value in metadata.values()):
            raise ValueError(
                "S3 metadata values must be ASCII: percent-encode them (services.validation.metadata_value)"
            )
        fields = {"Content-Type": content_type}
        fields.update({f"x-amz-meta-{name}": value for name, value in metadata.items()})
        if redirect_url is None:
            fields["success_action_status"] = "201"
        else:
            fields["success_action_redirect"] = redirect_url
        conditions: list[Any] = [{name: value} for name, value in fields.items()]
        conditions.append(["content-length-range", 1, max_bytes])
        post = self.client.generate_presigned_post(
            self.bucket, key, Fields=fields, Conditions=conditions, ExpiresIn=expires_in
        )
        return UploadPost(url=post["url"], fields=dict(post["fields"]))

    def head(self, key: str) -> ObjectInfo | None:
        try:
            response = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if _missing(error):
                return None
            raise
        return ObjectInfo(
            size=int(response["ContentLength"]),
            etag=str(response.get("ETag", "")).strip('"'),
            content_type=str(response.get("ContentType", "")),
        )

    def copy(self, source: str, destination: str) -> ObjectInfo | None:
        # One CopyObject: S3 copies up to 5 GiB in one request, and no upload form allows more
        # (resolvers.validation.MAX_UPLOAD_BYTES), so the transfer manager's multipart copy (a
        # HEAD and three requests or more above 8 MiB) would only add requests.
        try:
            self.client.copy_object(
                Bucket=self.bucket, Key=destination, CopySource={"Bucket": self.bucket, "Key": source}
            )
        except ClientError as error:
            if _missing(error):
                return None
            raise
        # CopyObject answers the copy's ETag but not its size: one HEAD of the copy, which no
        # form can post to, so it describes exactly what was copied.
        return self.head(destination)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def start_multipart(self, key: str, *, content_type: str) -> str:
        response = self.client.create_multipart_upload(Bucket=self.bucket, Key=key, ContentType=content_type)
        return str(response["UploadId"])

    def part_url(self, key: str, upload_id: str, number: int, *, size: int, expires_in: int) -> str:
        # ContentLength makes content-length one of X-Amz-SignedHeaders: without it a part's URL
        # would take a body of any size, up to S3's 5 GiB a part.
        params = {"Bucket": self.bucket, "Key": key, "UploadId": upload_id, "PartNumber": number, "ContentLength": size}
        return str(self.client.generate_presigned_url("upload_part", Params=params, ExpiresIn=expires_in))

    def list_parts(self, key: str, upload_id: str) -> list[UploadedPart] | None:
        parts: list[UploadedPart] = []
        try:
            # Pages of 1,000 parts; an upload has at most 10,000.
            for page in self.client.get_paginator("list_parts").paginate(
                Bucket=self.bucket, Key=key, UploadId=upload_id
            ):
                parts.extend(
                    UploadedPart(
                        number=int(part["PartNumber"]), etag=str(part["ETag"]).strip('"'), size=int(part["Size"])
                    )
                    for part in page.get("Parts", [])
                )
        except ClientError as error:
            if _code(error) == "NoSuchUpload":
                return None
            raise
        return sorted(parts, key=lambda part: part.number)

    def complete_multipart(self, key: str, upload_id: str, parts: Sequence[tuple[int, str]]) -> ObjectInfo | None:
        named = [{"PartNumber": number, "ETag": f'"{etag}"'} for number, etag in parts]
        try:
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": named}
            )
        except ClientError as error:
            if _code(error) == "NoSuchUpload":
                return None
            if _code(error) in {"InvalidPart", "InvalidPartOrder", "EntityTooSmall", "MalformedXML"}:
                raise MultipartRefused(_code(error)) from error
            raise
        return self.head(key)

    def abort_multipart(self, key: str, upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except ClientError as error:
            if _code(error) != "NoSuchUpload":
                raise

    def download_url(self, key: str, *, filename: str, expires_in: int) -> str:
        params = {"Bucket": self.bucket, "Key": key, "ResponseContentDisposition": content_disposition(filename)}
        return str(self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in))

    def image_url(self, key: str, *, expires_in: int) -> str:
        params = {"Bucket": self.bucket, "Key": key}
        return str(self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in))

    def download(self, key: str, path: Path, *, digest: Digest | None = None) -> None:
        # One streamed GET: the transfer manager's download_file (threads, a HEAD first) took
        # 17.6 ms against 7.1 ms for this in the pipeline benchmark, for files one request fetches.
        body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        with path.open("wb") as file:
            while chunk := body.read(DOWNLOAD_CHUNK):
                file.write(chunk)
                if digest is not None:
                    digest.update(chunk)

    def feed(self, key: str, digest: Digest) -> bool:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        except ClientError as error:
            if _missing(error):
                return False
            raise
        while chunk := body.read(DOWNLOAD_CHUNK):
            digest.update(chunk)
        return True

    def put_text(self, key: str, text: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=text.encode(), ContentType="text/plain; charset=utf-8")

    def get_text(self, key: str) -> str | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if _missing(error):
                return None
            raise
        return str(response["Body"].read().decode())

    def put_file(self, key: str, path: Path, *, content_type: str, cache_control: str) -> None:
        self.client.put_object(
            Bucket=self.bucket, Key=key, Body=path.read_bytes(), ContentType=content_type, CacheControl=cache_control
        )

    def keys_under(self, prefix: str) -> list[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        return [
            str(item["Key"])
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix)
            for item in page.get("Contents", [])
        ]

    def delete_prefix(self, prefix: str) -> int:
        deleted = 0
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})
                deleted += len(keys)
        return deleted

    def delete_older(self, prefix: str, before: datetime) -> int:
        deleted = 0
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", []) if item["LastModified"] < before]
            if keys:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})
                deleted += len(keys)
        return deleted

    def ensure_bucket(
        self, cors_origins: Sequence[str], *, expiring_prefix: str, expiry_days: int, abort_multipart_days: int = 1
    ) -> None:
        """Create the bucket if it is missing, let browsers POST forms and PUT multipart parts to it
        from ``cors_origins`` (reading each part's ``ETag``), have S3 delete objects under
        ``expiring_prefix`` ``expiry_days`` after they were written, and abort multipart uploads
        left incomplete ``abort_multipart_days`` after they started (lifecycle rules of DocStore's
        own; the bucket's other rules are kept)."""
        try:
            if self.region == "us-east-1":
                self.client.create_bucket(Bucket=self.bucket)
            else:
                self.client.create_bucket(
                    Bucket=self.bucket, CreateBucketConfiguration={"LocationConstraint": self.region}
                )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
                raise
        if cors_origins:
            rule = {
                "AllowedMethods": ["POST", "PUT", "GET", "HEAD"],
                "AllowedOrigins": list(cors_origins),
                "AllowedHeaders": ["*"],
                "ExposeHeaders": ["ETag", "Location"],
                "MaxAgeSeconds": 3600,
            }
            self.client.put_bucket_cors(Bucket=self.bucket, CORSConfiguration={"CORSRules": [rule]})
        self._ensure_expiry(expiring_prefix, expiry_days, abort_multipart_days)

    def _ensure_expiry(self, prefix: str, days: int, abort_days: int) -> None:
        try:
            rules = self.client.get_bucket_lifecycle_configuration(Bucket=self.bucket)["Rules"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "NoSuchLifecycleConfiguration":
                raise
            rules = []
        ours = [
            {"ID": EXPIRY_RULE_ID, "Filter": {"Prefix": prefix}, "Status": "Enabled", "Expiration": {"Days": days}},
            # Every multipart upload of the bucket is DocStore's, under no one prefix (each is
            # started at its document's final key).
            {
                "ID": ABORT_RULE_ID,
                "Filter": {"Prefix": ""},
                "Status": "Enabled",
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": abort_days},
            },
        ]
        if all(rule in rules for rule in ours):
            return
        kept = [rule for rule in rules if rule.get("ID") not in {EXPIRY_RULE_ID, ABORT_RULE_ID}]
        self.client.put_bucket_lifecycle_configuration(
            Bucket=self.bucket, LifecycleConfiguration={"Rules": [*kept, *ours]}
        )

    def copy_out(self, key: str, path: Path) -> ObjectCopy | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if _missing(error):
                return None
            raise
        with path.open("wb") as file:
            shutil.copyfileobj(response["Body"], file, 1024 * 1024)
        return ObjectCopy(
            size=int(response["ContentLength"]),
            content_type=str(response.get("ContentType", "")),
            metadata={str(name): str(value) for name, value in response.get("Metadata", {}).items()},
            cache_control=str(response.get("CacheControl", "")),
        )

    def copy_in(self, key: str, path: Path, copy: ObjectCopy) -> None:
        extra: dict[str, Any] = {"Metadata": dict(copy.metadata)}
        if copy.content_type:
            extra["ContentType"] = copy.content_type
        if copy.cache_control:
            extra["CacheControl"] = copy.cache_control
        # The transfer manager: one PUT takes at most 5 GiB, a PREMIUM document may be larger.
        self.client.upload_file(str(path), self.bucket, key, ExtraArgs=extra)
