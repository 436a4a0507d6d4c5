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
#: The lifecycle rule :meth:`S3ObjectStore.ensure_bucket` keeps, by this ID.
EXPIRY_RULE_ID = "docstore-staging-expiry"


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

    def download_url(self, key: str, *, filename: str, expires_in: int) -> str:
        """Sign a GET that downloads the object as an attachment named ``filename``."""
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

    def download_url(self, key: str, *, filename: str, expires_in: int) -> str:
        params = {"Bucket": self.bucket, "Key": key, "ResponseContentDisposition": content_disposition(filename)}
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

    def ensure_bucket(self, cors_origins: Sequence[str], *, expiring_prefix: str, expiry_days: int) -> None:
        """Create the bucket if it is missing, let browsers POST forms to it from ``cors_origins``,
        and have S3 delete objects under ``expiring_prefix`` ``expiry_days`` after they were written
        (a lifecycle rule of DocStore's own; the bucket's other rules are kept)."""
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
                "AllowedMethods": ["POST", "GET", "HEAD"],
                "AllowedOrigins": list(cors_origins),
                "AllowedHeaders": ["*"],
                "ExposeHeaders": ["ETag", "Location"],
                "MaxAgeSeconds": 3600,
            }
            self.client.put_bucket_cors(Bucket=self.bucket, CORSConfiguration={"CORSRules": [rule]})
        self._ensure_expiry(expiring_prefix, expiry_days)

    def _ensure_expiry(self, prefix: str, days: int) -> None:
        try:
            rules = self.client.get_bucket_lifecycle_configuration(Bucket=self.bucket)["Rules"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "NoSuchLifecycleConfiguration":
                raise
            rules = []
        ours = {"ID": EXPIRY_RULE_ID, "Filter": {"Prefix": prefix}, "Status": "Enabled", "Expiration": {"Days": days}}
        if ours in rules:
            return
        kept = [rule for rule in rules if rule.get("ID") != EXPIRY_RULE_ID]
        self.client.put_bucket_lifecycle_configuration(
            Bucket=self.bucket, LifecycleConfiguration={"Rules": [*kept, ours]}
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
        )

    def copy_in(self, key: str, path: Path, copy: ObjectCopy) -> None:
        extra: dict[str, Any] = {"Metadata": dict(copy.metadata)}
        if copy.content_type:
            extra["ContentType"] = copy.content_type
        # The transfer manager: one PUT takes at most 5 GiB, a PREMIUM document may be larger.
        self.client.upload_file(str(path), self.bucket, key, ExtraArgs=extra)
