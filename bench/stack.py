"""The embedded AWS every benchmark runs on: moto in this process, the models pointed at it,
the tables, bucket, queues and mail sender provisioned."""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Any

from adapters.aws import AwsTarget
from adapters.local_aws import EmbeddedAws
from models import tables
from runtime.services import provision
from settings import Settings

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@contextlib.contextmanager
def embedded_aws(folder: Path, **settings: Any) -> Iterator[tuple[Settings, AwsTarget]]:
    """Settings for the benchmark's stack (prefix ``bench``, no sweeper, ``settings`` on top)
    and its AWS target; the embedded AWS stops on leaving."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(name, None)  # only the embedded AWS is ever reached, never with real credentials
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-west-2")
    aws = EmbeddedAws(folder / "moto")
    endpoint = aws.start()
    try:
        options: dict[str, Any] = {
            "aws_mode": "endpoint",
            "aws_endpoint_url": endpoint,
            "table_prefix": "bench",
            "sweep_interval_seconds": 0,
            "data_dir": folder / "data",
            # Every simulated client signs in from 127.0.0.1.
            "auth_attempts_per_ip": 1_000_000,
            "auth_attempts_per_email": 1_000_000,
            **settings,
        }
        configured = Settings(**options)
        target = AwsTarget.from_settings(configured)
        tables.configure(target, configured.table_prefix)
        provision(configured, target)  # verifies the mail sender in moto's SES too
        yield configured, target
    finally:
        aws.stop()
