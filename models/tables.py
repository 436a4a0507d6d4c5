"""The tables: point every model at one DynamoDB, and create what is missing."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from adapters import embedded_signing, one_send
from models.accounts import Account, EmailClaim
from models.base import (
    BaseMeta,
    forget_table_connections,
    reset_context_prefix,
    reset_transaction_connection,
    set_context_prefix,
)
from models.changes import ChangeRow
from models.counters import Counter
from models.digests import DigestRow
from models.documents import Document
from models.idempotency import Handled
from models.outbox import Pending
from models.paths import PathClaim
from models.sessions import Session
from models.share_links import ShareLink
from models.shares import Share, SharedUpload
from models.version_rows import Version
from models.version_uploads import VersionUpload

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pynamodb.models import Model

    from adapters.aws import AwsTarget

#: Every model with a table of its own (named by its ``Meta.table_name``, after the prefix).
TABLES: tuple[type[Model], ...] = (
    Account,
    EmailClaim,
    Session,
    Document,
    PathClaim,
    Version,
    VersionUpload,
    Counter,
    Handled,
    Pending,
    ChangeRow,
    ShareLink,
    Share,
    SharedUpload,
    DigestRow,
)
#: The attribute DynamoDB's time-to-live reads, per model that has one. Not the outbox: a message
#: there waits until SQS has taken it, however long that is.
TTL_ATTRIBUTES: dict[type[Model], str] = {
    Session: "expires_at",
    Document: "expires_at",
    Handled: "expires_at",
    ChangeRow: "expires_at",
    VersionUpload: "expires_at",
    SharedUpload: "expires_at",
}


def configure(target: AwsTarget, prefix: str) -> None:
    """Point every model at ``target`` with tables named ``{prefix}-{name}``.

    PynamoDB keeps connection settings on the model classes, so this holds for the whole
    process: one DocStore configuration per process (one context may use other tables of the same
    DynamoDB: :func:`isolated`).
    """
    if target.embedded and target.endpoint_url:
        embedded_signing.install(target.endpoint_url)
    one_send.install()
    BaseMeta.host = target.endpoint_url
    BaseMeta.region = target.region
    BaseMeta.aws_access_key_id = target.access_key
    BaseMeta.aws_secret_access_key = target.secret_key
    BaseMeta.max_pool_connections = target.pool_size
    BaseMeta.table_prefix = prefix
    for model in TABLES:
        meta = model.Meta
        for attribute in ("host", "region", "aws_access_key_id", "aws_secret_access_key", "max_pool_connections"):
            setattr(meta, attribute, getattr(BaseMeta, attribute))
        model._connection = None
    forget_table_connections()
    reset_transaction_connection()


@contextlib.contextmanager
def isolated(prefix: str) -> Iterator[list[str]]:
    """Within the block, this context (the thread, and the tasks and threads it starts) reads and
    writes the tables ``{prefix}-{name}`` of the configured DynamoDB, created first where missing;
    every other thread keeps the process's. Gives the names of the tables it created."""
    token = set_context_prefix(prefix)
    try:
        yield create_tables()
    finally:
        reset_context_prefix(token)


def create_tables() -> list[str]:
    """Create the tables that do not exist yet and switch on their TTL; returns those created."""
    created = []
    for model in TABLES:
        if not model.exists():
            model.create_table(wait=True, billing_mode="PAY_PER_REQUEST")
            created.append(model.Meta.table_name)
        if model in TTL_ATTRIBUTES:
            model.update_ttl(ignore_update_ttl_errors=True)
    return created
