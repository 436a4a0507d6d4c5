"""Queue messages: one class per kind of work, the contract between what sends it and the workers.

Each class is a msgspec ``Struct`` tagged by its ``type`` and names the queue it goes on
(``adapters.queue``). Encoded (``msgspec.to_builtins``, then JSON) a message is the very object
the dicts of before were, key for key and in the same order: ``type`` first, then
``account_id``, ``document_id``, ``key``, and ``after`` only when set. So the messages waiting in
SQS and in the outbox table when this was written read as they always did, and a reader of the
queues sees no change.

Reading validates (:func:`parse`): a body that is not JSON, is no object, names a type its queue
does not carry, or lacks a field or has one of the wrong type raises :class:`Malformed`, with what
is wrong and where. Fields a message does not declare are ignored, so a newer sender's additions
do not stop an older worker. The consumer sends what does not parse to the queue's dead-letter
queue (``workers.consumer``).

msgspec rather than dataclasses: it decodes a tagged union straight from the JSON, checks every
field's type on the way (a dataclass would need that written by hand, per field), and needs
nothing else installed; pydantic would bring its core for what msgspec does alone.
"""

from __future__ import annotations

import functools
import operator
import uuid
from typing import Annotated, Any, ClassVar

import msgspec

from adapters.queue import ACCOUNT_EVENTS, BACKFILL, QUEUES, SEARCH_INDEX, UPLOAD_EVENTS

#: An id: a string, never empty (DynamoDB refuses an empty key, so no handler could act on one).
Id = Annotated[str, msgspec.Meta(min_length=1)]


class Malformed(ValueError):
    """A body that is no message its queue carries: handling it again cannot help."""


def new_key() -> str:
    """A key of its own for a message that is new work even when it names the same ids as another."""
    return uuid.uuid4().hex


class QueueMessage(msgspec.Struct, frozen=True, tag_field="type", omit_defaults=True):
    """What every message carries: its type (the tag, first in the JSON) and the account it is about."""

    #: The queue this kind of message goes on (a name of ``adapters.queue.QUEUES``).
    queue: ClassVar[str]

    account_id: Id

    @property
    def kind(self) -> str:
        """The message's type, as its JSON names it (``upload.completed``)."""
        return str(self.__struct_config__.tag)

    @property
    def dedupe_key(self) -> str:
        """What makes two messages the same work: the type and the ids (and ``key``) they carry.
        The consumer remembers it, where it remembers, to drop a repeat (``models.idempotency``)."""
        ids = [self.account_id, getattr(self, "document_id", None), getattr(self, "key", None)]
        return ":".join([self.kind, *(str(part) for part in ids if part)])


class UploadStarted(QueueMessage, frozen=True, tag="upload.started"):
    """Sent delayed until the upload form and the sweeper's grace have passed: settles an upload
    nobody completed, or takes on one whose ``upload.completed`` was lost."""

    queue = UPLOAD_EVENTS
    document_id: Id


class UploadCompleted(QueueMessage, frozen=True, tag="upload.completed"):
    """The upload is counted and PROCESSING: detect, extract, index, make it READY."""

    queue = UPLOAD_EVENTS
    document_id: Id


class DocumentDeleted(QueueMessage, frozen=True, tag="document.deleted"):
    """The account's usage fell: check its quota level again. The document's id makes each delete
    its own work."""

    queue = UPLOAD_EVENTS
    document_id: Id


class AccountCreated(QueueMessage, frozen=True, tag="account.created"):
    """Count the new account in the dashboard counters, and copy it to the other regions."""

    queue = ACCOUNT_EVENTS


class AccountUpdated(QueueMessage, frozen=True, tag="account.updated"):
    """A replicated field (plan, email, password hash) changed: copy the account to the other regions."""

    queue = ACCOUNT_EVENTS
    key: Id


class IndexDocument(QueueMessage, frozen=True, tag="index.document"):
    """Bring one document's search entry up to date with its record (or remove it)."""

    queue = SEARCH_INDEX
    document_id: Id
    key: Id


class IndexAccount(QueueMessage, frozen=True, tag="index.account"):
    """Bring every search entry of the account up to date (after a plan change)."""

    queue = SEARCH_INDEX
    key: Id


class PlanChanged(QueueMessage, frozen=True, tag="plan.changed"):
    """Work through the account's documents after a plan change, from the one after ``after``
    (from the first without it)."""

    queue = BACKFILL
    key: Id
    after: str | None = None


class HashDocuments(QueueMessage, frozen=True, tag="hash.documents"):
    """Give the account's stored documents that have no content hash (stored before DocStore had
    content hashes) one, from the one after ``after`` (from the first without it); sent by
    ``docstore backfill-hashes``."""

    queue = BACKFILL
    key: Id
    after: str | None = None


class DigestDue(QueueMessage, frozen=True, tag="digest.due"):
    """Sent delayed by the digest window: email the follower (``account_id``) the changes of the
    documents it follows that wait for it (``models.digests``)."""

    queue = ACCOUNT_EVENTS
    key: Id


MESSAGES: tuple[type[QueueMessage], ...] = (
    UploadStarted,
    UploadCompleted,
    DocumentDeleted,
    AccountCreated,
    AccountUpdated,
    IndexDocument,
    IndexAccount,
    PlanChanged,
    HashDocuments,
    DigestDue,
)


def on_queue(queue: str) -> tuple[type[QueueMessage], ...]:
    """The kinds of message that go on ``queue`` (none for a name that is no queue)."""
    return tuple(kind for kind in MESSAGES if kind.queue == queue)


@functools.cache
def _decoder(kinds: tuple[type[QueueMessage], ...]) -> msgspec.json.Decoder[Any]:
    union: Any = functools.reduce(operator.or_, kinds)
    return msgspec.json.Decoder(union)


def parse(body: str | bytes, kinds: tuple[type[QueueMessage], ...]) -> QueueMessage:
    """The message ``body`` holds, which must be one of ``kinds``; :class:`Malformed` otherwise."""
    if not kinds:
        raise Malformed("no kind of message is expected here")
    try:
        message = _decoder(kinds).decode(body)
    except msgspec.DecodeError as error:  # ValidationError is one too
        takes = ", ".join(str(kind.__struct_config__.tag) for kind in kinds)
        raise Malformed(f"{error} (expected a JSON object with a type of {takes})") from None
    if not isinstance(message, QueueMessage):  # pragma: no cover (the decoder makes only these)
        raise Malformed(f"not a message: {message!r}")
    return message


def parse_on(queue: str, body: str | bytes) -> QueueMessage:
    """The message ``body`` holds, which must be one that ``queue`` carries; :class:`Malformed` otherwise."""
    if queue not in QUEUES:
        raise Malformed(f"{queue!r} is no queue DocStore has")
    return parse(body, on_queue(queue))
