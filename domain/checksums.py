"""What comparing a client's content hashes with DocStore's can find for one path."""

from __future__ import annotations

from enum import StrEnum


class ChecksumState(StrEnum):
    """Where one path stands between a client's copy and the account's document there."""

    UNCHANGED = "UNCHANGED"
    DIFFERENT = "DIFFERENT"
    NOT_ON_SERVER = "NOT_ON_SERVER"
    NOT_ON_CLIENT = "NOT_ON_CLIENT"
    #: The path is held by a document whose content hash is not known yet (its upload is not
    #: complete, or the workers have not read its bytes): neither equal nor different.
    PENDING = "PENDING"
