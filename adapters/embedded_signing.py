"""Requests to the embedded AWS carry their credential scope, not a SigV4 signature.

Signing a request with SigV4 (a canonical request, a string to sign and four HMACs) was a seventh of
the API process's CPU under load, and the embedded AWS never checks a signature: moto does not,
and it listens on 127.0.0.1 for this machine alone. What it reads is the credential scope in the
``Authorization`` header (access key, date, region, service), which names the account and the
region. :class:`ScopeOnlyForEmbedded` writes just that, with an empty signature, for requests to
an endpoint :func:`install` was given, and signs every other request with SigV4 as before.

It replaces botocore's ``v4`` signer, which DynamoDB and SQS use. S3 (``s3v4``) and presigned
links and forms (``v4-query``, ``s3v4-presign-post``) keep their own signers: they go to
browsers and other clients, signed exactly as for AWS.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import botocore.auth

#: botocore's name for the signer this replaces.
SIGNATURE_VERSION = "v4"

_endpoints: set[str] = set()
_lock = threading.Lock()


class ScopeOnlyForEmbedded(botocore.auth.SigV4Auth):
    """SigV4, except towards the embedded AWS: there, the credential scope and no signature."""

    def __init__(self, credentials: Any, service_name: str, region_name: str) -> None:
        super().__init__(credentials, service_name, region_name)
        self.scoped = (service_name, region_name)

    def add_auth(self, request: Any) -> None:
        if urlsplit(request.url).netloc not in _endpoints:
            super().add_auth(request)
            return
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        for name in ("Authorization", "X-Amz-Date"):
            if name in request.headers:
                del request.headers[name]
        request.headers["X-Amz-Date"] = stamp
        service, region = self.scoped
        scope = f"{self.credentials.access_key}/{stamp[:8]}/{region}/{service}/aws4_request"
        request.headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host;x-amz-date, Signature={'0' * 64}"
        )


def install(endpoint_url: str) -> None:
    """Sign requests to ``endpoint_url`` (the embedded AWS) with the scope only, from now on, in
    every botocore client of this process; calling it again adds nothing."""
    with _lock:
        _endpoints.add(urlsplit(endpoint_url).netloc)
        botocore.auth.AUTH_TYPE_MAPS[SIGNATURE_VERSION] = ScopeOnlyForEmbedded


def scope_only(endpoint_url: str) -> bool:
    """Whether requests to ``endpoint_url`` go out with the scope only."""
    return urlsplit(endpoint_url).netloc in _endpoints
