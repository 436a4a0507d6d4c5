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


class PlanRace(Exception):
    """The account's plan kept changing while a counting transaction was retried; try later."""

    def __init__(self, account_id: str) -> None:
        super().__init__(f"The plan of account {account_id} kept changing; nothing was counted.")
        self.account_id = account_id
