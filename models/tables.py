"""The tables: point every model at one DynamoDB, and create what is missing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters import embedded_signing
from models.accounts import Account, EmailClaim
from models.base import BaseMeta, reset_transaction_connection
from models.counters import Counter
from models.documents import Document
from models.idempotency import Handled
from models.outbox import Pending
from models.sessions import Session

if TYPE_CHECKING:
    from pynamodb.models import Model

    from adapters.aws import AwsTarget

#: Each model with its table's name before the prefix.
TABLES: dict[type[Model], str] = {
    Account: "accounts",
    EmailClaim: "emails",
    Session: "sessions",
    Document: "documents",
    Counter: "counters",
    Handled: "idempotency",
    Pending: "outbox",
}
#: The attribute DynamoDB's time-to-live reads, per model that has one. Not the outbox: a message
#: there waits until SQS has taken it, however long that is.
TTL_ATTRIBUTES: dict[type[Model], str] = {Session: "expires_at", Document: "expires_at", Handled: "expires_at"}


def configure(target: AwsTarget, prefix: str) -> None:
    """Point every model at ``target`` with tables named ``{prefix}-{name}``.

    PynamoDB keeps connection settings on the model classes, so this holds for the whole
    process: one DocStore configuration per process.
    """
    if target.embedded and target.endpoint_url:
        embedded_signing.install(target.endpoint_url)
    BaseMeta.host = target.endpoint_url
    BaseMeta.region = target.region
    BaseMeta.aws_access_key_id = target.access_key
    BaseMeta.aws_secret_access_key = target.secret_key
    BaseMeta.max_pool_connections = target.pool_size
    for model, name in TABLES.items():
        meta = model.Meta
        meta.table_name = f"{prefix}-{name}"
        for attribute in ("host", "region", "aws_access_key_id", "aws_secret_access_key", "max_pool_connections"):
            setattr(meta, attribute, getattr(BaseMeta, attribute))
        model._connection = None
    reset_transaction_connection()


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
