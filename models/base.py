"""What every model shares: connection settings, time, and reading DynamoDB condition failures."""

from __future__ import annotations

import threading
from contextvars import ContextVar
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from pynamodb.attributes import Attribute
from pynamodb.connection import Connection, TableConnection
from pynamodb.connection import base as pynamodb_connection
from pynamodb.constants import STRING
from pynamodb.models import Model

from adapters.aws import botocore_session

if TYPE_CHECKING:
    from pynamodb.attributes import NumberAttribute
    from pynamodb.exceptions import PynamoDBException, TransactWriteError
    from pynamodb.expressions.condition import Condition

CONDITION_FAILED = "ConditionalCheckFailedException"

E = TypeVar("E", bound=StrEnum)

# PynamoDB opens a botocore session of its own for each connection (one per model, and one for
# transactions), and each new session would read botocore's service descriptions from disk again:
# about 40 ms and 7 MB each. PynamoDB takes no session from its caller, so the function its
# connections call is replaced by one that shares the process's loader (``adapters.aws``).
pynamodb_connection.get_session = botocore_session  # type: ignore[attr-defined]  # imported there, not exported


#: The table prefix of this context (a thread, and the tasks and worker threads it starts), over the
#: process's: ``models.tables.isolated`` sets it, so that one test's tables are its own while a
#: server in another thread of the same process goes on with the process's.
_context_prefix: ContextVar[str | None] = ContextVar("docstore_table_prefix", default=None)


class TableNames(type):
    """The metaclass of :class:`BaseMeta`: a model's ``Meta.table_name`` reads ``{prefix}-{name}``,
    ``name`` being what its ``Meta`` declares and ``prefix`` the context's, else the process's
    (``BaseMeta.table_prefix``, which ``models.tables.configure`` sets). PynamoDB reads
    ``Meta.table_name`` at every request, so each context reaches its own tables."""

    @property
    def table_name(cls) -> str:
        name: str = next(vars(klass)["table_name"] for klass in cls.__mro__ if "table_name" in vars(klass))
        prefix = _context_prefix.get() or BaseMeta.table_prefix
        return name if prefix is None else f"{prefix}-{name}"


class BaseMeta(metaclass=TableNames):
    """Connection settings shared by every table; ``models.tables.configure`` fills them in."""

    table_prefix: str | None = None
    host: str | None = None
    region: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    max_pool_connections: int = 32
    billing_mode = "PAY_PER_REQUEST"


class EnumAttribute(Attribute[E]):
    """A string attribute whose values are the members of ``enum`` (``domain.plans.Plan``, ...).

    Stored as the member's value, the very string an untyped attribute held, so items written
    before and after read alike; read back as the member. Conditions and updates take a member
    (or its string), and so does assignment, which keeps the member: a value that is none of them
    fails there, with ``ValueError``, before anything is written."""

    attr_type = STRING

    def __init__(self, enum: type[E], **options: Any) -> None:
        super().__init__(**options)
        self.enum = enum

    def __set__(self, instance: Any, value: E | str | None) -> None:
        super().__set__(instance, None if value is None else self.enum(value))

    def serialize(self, value: E | str) -> str:
        return self.enum(value).value

    def deserialize(self, value: str) -> E:
        return self.enum(value)


_table_connections: dict[tuple[type[Model], str], TableConnection] = {}
_table_connections_lock = threading.Lock()


class TableModel(Model):
    """A model whose table follows the context (:class:`TableNames`). PynamoDB keeps one connection
    a model class, made for the table name it saw first; here there is one a model and table name,
    so threads reaching different tables of the same model never swap each other's."""

    @classmethod
    def _get_connection(cls) -> TableConnection:
        key = (cls, cls.Meta.table_name)
        connection = _table_connections.get(key)
        if connection is None:
            with _table_connections_lock:
                cls._connection = None  # PynamoDB's own cache: made anew for this name, under the lock
                connection = _table_connections[key] = super()._get_connection()
        return connection


def forget_table_connections() -> None:
    """Drop every model's connections (``models.tables.configure`` points the models elsewhere)."""
    with _table_connections_lock:
        _table_connections.clear()


def set_context_prefix(prefix: str | None) -> Any:
    """Make ``prefix`` this context's table prefix; the token that :func:`reset_context_prefix` takes."""
    return _context_prefix.set(prefix)


def reset_context_prefix(token: Any) -> None:
    _context_prefix.reset(token)


class _Connections:
    transactions: Connection | None = None


def transaction_connection() -> Connection:
    """The connection ``TransactWrite`` uses (PynamoDB transactions need one of their own)."""
    if _Connections.transactions is None:
        _Connections.transactions = Connection(
            region=BaseMeta.region,
            host=BaseMeta.host,
            max_pool_connections=BaseMeta.max_pool_connections,
            aws_access_key_id=BaseMeta.aws_access_key_id,
            aws_secret_access_key=BaseMeta.aws_secret_access_key,
        )
    return _Connections.transactions


def reset_transaction_connection() -> None:
    _Connections.transactions = None


def utcnow() -> datetime:
    return datetime.now(UTC)


def condition_failed(error: PynamoDBException) -> bool:
    return error.cause_response_code == CONDITION_FAILED


def failed_items(error: TransactWriteError) -> list[bool]:
    """For each item of a cancelled transaction, whether its own condition failed.

    PynamoDB sends the items grouped by kind, whatever order they were added in: condition
    checks, then deletes, then puts, then updates. Index the result in that order.
    """
    return [
        reason is not None and reason.code == "ConditionalCheckFailed" for reason in error.cancellation_reasons or []
    ]


def number_is(attribute: NumberAttribute, value: int) -> Condition:
    """``attribute == value``, where a missing attribute holds its default 0."""
    condition = attribute == value
    return condition | attribute.does_not_exist() if value == 0 else condition
