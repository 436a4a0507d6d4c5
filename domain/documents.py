"""Document statuses: where a document is in its life.

The one list of statuses. DynamoDB stores a status by its name (``READY``), and the GraphQL
``DocumentStatus`` enum is built from this one (``schema/documents.py``).
"""

from __future__ import annotations

from enum import StrEnum


class DocumentStatus(StrEnum):
    """``PENDING_UPLOAD`` → ``PROCESSING`` → ``READY`` or ``FAILED``; or ``REJECTED`` on the way.
    A ``str``: stored, compared and shown as its name."""

    PENDING_UPLOAD = "PENDING_UPLOAD"
    PROCESSING = "PROCESSING"
    READY = "READY"
    FAILED = "FAILED"
    REJECTED = "REJECTED"


#: The statuses in which the original object exists and counts against the quota.
STORED = (DocumentStatus.PROCESSING, DocumentStatus.READY, DocumentStatus.FAILED)
