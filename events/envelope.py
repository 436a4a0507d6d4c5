"""The event envelope: what workers and resolvers publish and subscribers receive.

Small JSON, the same across processes (``memory://`` in one process, Redis between several):
``{"id", "type", "account_id", "document_id", "at", "data"}``. A bottom module: the API, the
workers and ``adapters.pubsub`` all import it, and it imports nothing of DocStore.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from ulid import ULID


class EventType(StrEnum):
    UPLOAD_STARTED = "UploadStarted"
    PROCESSING_STARTED = "ProcessingStarted"
    EXTRACTION_PROGRESS = "ExtractionProgress"  # data: {"page": int, "pages": int}
    DOCUMENT_READY = "DocumentReady"  # data: {"content_hash": str, "has_thumbnail": bool}
    DOCUMENT_FAILED = "DocumentFailed"  # data: {"reason": str}
    DOCUMENT_DELETED = "DocumentDeleted"
    QUOTA_CHANGED = "QuotaChanged"  # data: {"used_bytes": int, "limit_bytes": int}
    QUOTA_WARNING = "QuotaWarning"  # data: {"percent": int}
    QUOTA_EXCEEDED = "QuotaExceeded"  # data: {"used_bytes": int, "limit_bytes": int}
    #: A change of the account's change feed committed (``changeEvents``); data: {"sequence": int,
    #: "kind": str, "path": str, "version": int | None}.
    CHANGE_RECORDED = "ChangeRecorded"
    #: Not a GraphQL event: ends the subscriptions running under that session (signOut).
    SESSION_ENDED = "SessionEnded"  # data: {"session": sessions.fingerprint(token)}
    #: Not a GraphQL event: on the owner's channel, ends the grantee's subscriptions to the
    #: document (``unshareDocument``).
    SHARE_REMOVED = "ShareRemoved"  # data: {"grantee": account id}
    #: On a follower's channel: a document it follows changed (``services.follows``); data:
    #: {"change": DocumentChange, "by": the actor's email, "version": int, "owner": account id}.
    DOCUMENT_CHANGED = "DocumentChanged"


#: Events about the account's storage rather than one document.
QUOTA_EVENTS = frozenset({EventType.QUOTA_CHANGED, EventType.QUOTA_WARNING, EventType.QUOTA_EXCEEDED})


@dataclass(frozen=True)
class Event:
    type: EventType
    account_id: str
    document_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    id: str = field(default_factory=lambda: str(ULID()))

    def to_json(self) -> str:
        return json.dumps(
            {
                "id": self.id,
                "type": self.type.value,
                "account_id": self.account_id,
                "document_id": self.document_id,
                "at": self.at.isoformat(),
                "data": self.data,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, raw: str) -> Event:
        """Parse an envelope; ValueError (or KeyError) for anything malformed."""
        body = json.loads(raw)
        if not isinstance(body, dict) or not isinstance(body.get("data", {}), dict):
            raise ValueError("an event is a JSON object with an object as data")
        return cls(
            type=EventType(body["type"]),
            account_id=str(body["account_id"]),
            document_id=None if body.get("document_id") is None else str(body["document_id"]),
            data=body.get("data", {}),
            at=datetime.fromisoformat(body["at"]),
            id=str(body["id"]),
        )
