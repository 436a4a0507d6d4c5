"""Change kinds: what a change feed entry says happened to a document.

The one list. DynamoDB stores a kind by its name (``models.changes``) and the GraphQL
``ChangeKind`` enum is built from this one (``schema/changes.py``).
"""

from __future__ import annotations

from enum import StrEnum


class ChangeKind(StrEnum):
    """What happened to one document, as a sync client needs to hear it. A ``str``: stored,
    compared and shown as its name."""

    #: The upload was completed and counted: the document has bytes (completeUpload,
    #: completeMultipartUpload, or the sweeper completing a posted form).
    CREATED = "CREATED"
    #: Its name, tags or description changed (updateDocument).
    UPDATED = "UPDATED"
    #: It moved to another path (moveDocument).
    MOVED = "MOVED"
    #: A new version of its bytes was added (``models.versions``, in the version's transaction).
    NEW_VERSION = "NEW_VERSION"
    #: An old version was made current again (``models.versions``, in the restore's transaction).
    RESTORED = "RESTORED"
    #: It is gone: deleted by its owner, or a counted file the pipeline refused.
    DELETED = "DELETED"
