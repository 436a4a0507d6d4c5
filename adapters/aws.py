"""Where boto3 clients are built: one place that knows the endpoint, region and credentials."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
import botocore.session
from botocore.config import Config

from adapters import embedded_signing, one_send, priority
from settings import EMBEDDED_ACCESS_KEY, EMBEDDED_SECRET_KEY

if TYPE_CHECKING:
    from botocore.loaders import Loader

    from settings import Settings

# One boto3 session per set of credentials and region, shared by every client this process builds:
# a new session reads botocore's service models from disk again, which made opening a process's
# twenty-odd clients take seconds. Sessions are not thread-safe, so clients are built under a lock.
_sessions: dict[tuple[str | None, str | None, str], boto3.session.Session] = {}
_building = threading.Lock()
# botocore's service descriptions (its endpoints.json alone is 1.2 MB of JSON), read from disk once
# per process: every botocore session, boto3's and those PynamoDB opens (``models.base``), reads
# through the first session's loader. A second reading costs about 40 ms and 7 MB.
_loader: Loader | None = None
_loading = threading.Lock()


def botocore_session(env_vars: dict[str, Any] | None = None) -> botocore.session.Session:
    """A new botocore session (as ``botocore.session.get_session``) that shares the process's
    loader and marks background DynamoDB requests to the embedded AWS (``adapters.priority``).
    Sessions stay separate, since building clients on one is not thread-safe; the loader only
    reads files and keeps what it read."""
    global _loader
    session = botocore.session.get_session(env_vars)
    priority.install(session)
    with _loading:
        if _loader is None:
            _loader = session.get_component("data_loader")  # as botocore builds it (AWS_DATA_PATH too)
        else:
            session.register_component("data_loader", _loader)
    return session


@dataclass(frozen=True)
class AwsTarget:
    """The AWS a process talks to: real AWS (``endpoint_url`` None) or an AWS-compatible endpoint."""

    region: str
    endpoint_url: str | None
    access_key: str | None
    secret_key: str | None
    pool_size: int

    @classmethod
    def from_settings(cls, settings: Settings, endpoint_url: str | None = None) -> AwsTarget:
        endpoint = endpoint_url or settings.aws_endpoint_url
        local = settings.aws_mode != "aws"
        return cls(
            region=settings.region,
            endpoint_url=endpoint if local else None,
            access_key=EMBEDDED_ACCESS_KEY if settings.embedded else None,
            secret_key=EMBEDDED_SECRET_KEY if settings.embedded else None,
            # The API's thread pool and, where this process runs them, the workers' (runtime.start_workers).
            pool_size=settings.blocking_threads + (settings.worker_concurrency if settings.run_workers else 0),
        )

    @property
    def embedded(self) -> bool:
        """Whether this is DocStore's embedded AWS (its own credentials), not AWS or another endpoint."""
        return self.access_key == EMBEDDED_ACCESS_KEY

    def client(self, service: str, *, timeout: float | None = None) -> Any:
        """A boto3 client for ``service``; S3 uses path-style addressing on a custom endpoint.
        With ``timeout``, each call makes one attempt that gives up after that many seconds
        (connecting and reading each), for checks that must answer quickly."""
        limits: dict[str, Any] = {}
        if timeout is not None:
            limits = {"connect_timeout": timeout, "read_timeout": timeout}
        config = Config(
            region_name=self.region,
            max_pool_connections=self.pool_size,
            retries={"mode": "standard", "max_attempts": 1 if timeout is not None else 3},
            **limits,
            signature_version="s3v4" if service == "s3" else None,
            s3={"addressing_style": "path"} if self.endpoint_url else None,
        )
        if self.embedded and self.endpoint_url:
            embedded_signing.install(self.endpoint_url)
        one_send.install()
        key = (self.access_key, self.secret_key, self.region)
        with _building:
            session = _sessions.get(key)
            if session is None:
                session = _sessions[key] = boto3.session.Session(
                    aws_access_key_id=self.access_key,
                    aws_secret_access_key=self.secret_key,
                    region_name=self.region,
                    botocore_session=botocore_session(),
                )
                # Each boto3 session adds boto3's folder to the (shared) loader's search path: once is enough.
                if _loader is not None:
                    _loader.search_paths[:] = list(dict.fromkeys(_loader.search_paths))
            return session.client(service, endpoint_url=self.endpoint_url, config=config)  # type: ignore[call-overload]
