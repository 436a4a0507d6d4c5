"""Sharing a document with another account: the roles a viewer of a document can hold."""

from __future__ import annotations

from enum import StrEnum


class DocumentRole(StrEnum):
    """What the viewer of a document may do with it. A ``str``: stored and shown as its name."""

    OWNER = "OWNER"
    EDITOR = "EDITOR"
    VIEWER = "VIEWER"

    def allows(self, needed: DocumentRole) -> bool:
        """Whether this role may do what ``needed`` may: OWNER > EDITOR > VIEWER."""
        return RANK[self] >= RANK[needed]


#: The name the code uses; GraphQL's is the class's, ``DocumentRole``.
Role = DocumentRole
RANK = {Role.VIEWER: 0, Role.EDITOR: 1, Role.OWNER: 2}
#: The roles a share can give (the owner's is nobody else's).
GRANTED = (Role.VIEWER, Role.EDITOR)
