"""Domain exceptions: what went wrong, in the words of the domain, with no GraphQL in sight."""

from __future__ import annotations


class DomainError(Exception):
    """A failure a user can cause; resolvers turn each into a typed GraphQL error."""


class EmailTaken(DomainError):
    def __init__(self, email: str) -> None:
        super().__init__(f"An account with the email {email} already exists.")
        self.email = email


class AccountNotFound(DomainError):
    pass


class DocumentNotFound(DomainError):
    def __init__(self, document_id: str) -> None:
        super().__init__(f"No document with id {document_id}.")
        self.document_id = document_id


class PathTaken(DomainError):
    def __init__(self, path: str) -> None:
        super().__init__(f"Another document is at {path} (paths ignore case).")
        self.path = path


class VersionConflict(DomainError):
    """An UPDATE named a version that is not the document's current one (None: no document there)."""

    def __init__(self, current_version: int | None) -> None:
        super().__init__(
            "There is no document at that path to update."
            if current_version is None
            else f"The document is at version {current_version} now, not the version named."
        )
        self.current_version = current_version


class VersionNotFound(DomainError):
    def __init__(self, version: int) -> None:
        super().__init__(
            f"The document has no version {version} (it never had one, or it is past the plan's retention)."
        )
        self.version = version


class QuotaExceeded(DomainError):
    def __init__(self, *, limit_bytes: int, used_bytes: int, reserved_bytes: int, requested_bytes: int) -> None:
        super().__init__(
            f"Uploading {requested_bytes} bytes would pass the plan's limit of {limit_bytes} bytes "
            f"({used_bytes} used, {reserved_bytes} reserved by uploads in progress)."
        )
        self.limit_bytes = limit_bytes
        self.used_bytes = used_bytes
        self.reserved_bytes = reserved_bytes
        self.requested_bytes = requested_bytes


class UploadRejected(DomainError):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class UploadCompleted(DomainError):
    """The upload asked about is no longer in progress: it was completed, and is a document."""

    def __init__(self, document_id: str, status: str) -> None:
        super().__init__(f"This upload was completed: its document is {status}. Delete it with deleteDocument instead.")
        self.document_id = document_id
        self.status = status


class RaceLost(DomainError):
    """A write kept losing the race to other changes of the same account, every attempt of it
    (``models.retries``); nothing of it was written, and trying again a moment later may succeed."""

    def __init__(self, account_id: str, attempts: int, message: str) -> None:
        super().__init__(message)
        self.account_id = account_id
        self.attempts = attempts


class PlanRace(RaceLost):
    """The account's plan, or what is counted under it, changed before each attempt could write:
    a plan change racing the counting, deleting, reserving or completing of documents."""

    def __init__(self, account_id: str, attempts: int) -> None:
        super().__init__(
            account_id,
            attempts,
            f"Your plan, or the documents counted under it, kept changing while this was being saved "
            f"({attempts} attempts); nothing was changed. Try again in a moment.",
        )


class QuotaLevelRace(RaceLost):
    """Other workers kept moving the account's quota level while this one evaluated it."""

    def __init__(self, account_id: str, attempts: int) -> None:
        super().__init__(
            account_id,
            attempts,
            f"The quota level of account {account_id} kept moving while it was being checked "
            f"({attempts} attempts); nothing was changed.",
        )


class ShareLinkNotFound(DomainError):
    """No such link of this owner (never made, another owner's, or its document deleted)."""

    def __init__(self, link_id: str) -> None:
        super().__init__(f"No share link with id {link_id}.")
        self.link_id = link_id


class TooManyLinks(DomainError):
    """The document holds the most live links allowed."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"A document may have at most {limit} share links (DOCSTORE_SHARE_LINKS_PER_DOCUMENT); revoke one first."
        )
        self.limit = limit


class ShareNotFound(DomainError):
    """No such share (never made, removed, or not the caller's to remove)."""

    def __init__(self, share_id: str) -> None:
        super().__init__(f"No share with id {share_id}.")
        self.share_id = share_id
