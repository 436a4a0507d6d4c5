"""Email to account owners, through SES (moto's SES in the embedded default)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from adapters.aws import AwsTarget


class Mailer(Protocol):
    """Sends plain-text email. Blocking; call it through ``Blocking.run``."""

    def send(self, to: str, subject: str, body: str) -> None: ...


class SesMailer:
    """:class:`Mailer` through SES from one verified sender address."""

    def __init__(self, target: AwsTarget, sender: str) -> None:
        self._target = target
        self.sender = sender

    @functools.cached_property
    def client(self) -> Any:
        # Built on first use: a process that sends no email does not pay for the client.
        return self._target.client("ses")

    def verify_sender(self) -> None:
        """Ask SES to verify the sender (moto verifies at once; real SES emails a link)."""
        self.client.verify_email_identity(EmailAddress=self.sender)

    def send(self, to: str, subject: str, body: str) -> None:
        self.client.send_email(
            Source=self.sender,
            Destination={"ToAddresses": [to]},
            Message={
                "Subject": {"Data": subject, "Charset": "UTF-8"},
                "Body": {"Text": {"Data": body, "Charset": "UTF-8"}},
            },
        )
