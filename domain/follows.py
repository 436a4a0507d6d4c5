"""What a follower hears of a change of a document it follows (``DocumentChanged.change``).

The one list: the GraphQL ``DocumentChange`` enum is built from it (``schema/events.py``). Finer
than the change feed's ``ChangeKind`` where a follower cares (an update is a rename or a retag)
and silent where it does not: a move (the path is the owner's filing), a new description and a
new document (nobody follows it yet) tell followers nothing.
"""

from __future__ import annotations

from enum import StrEnum


class DocumentChange(StrEnum):
    """What happened to a followed document. A ``str``: carried and shown as its name."""

    #: A new version of its bytes (an upload, by the owner or an EDITOR).
    NEW_VERSION = "NEW_VERSION"
    #: Its name changed (updateDocument's ``name``).
    RENAMED = "RENAMED"
    #: Its tags changed (updateDocument's ``tags``).
    RETAGGED = "RETAGGED"
    #: It was deleted: nobody follows it any more.
    DELETED = "DELETED"
    #: An earlier version was made current again (restoreVersion).
    RESTORED = "RESTORED"
