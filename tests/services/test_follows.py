"""A follower's digest as the worker's handler sends it, on this test's own tables (so the live
server's workers never take its messages): a repeated or stale ``digest.due`` message sends
nothing, and a change that comes while the digest goes out is scheduled for the next."""

from __future__ import annotations

import json
from collections.abc import Callable

from ulid import ULID

from domain.follows import DocumentChange
from models import accounts, digests
from models.base import utcnow
from services import follows


class Mailbox:
    """The mailer, at the process boundary: what would go to SES; ``meanwhile`` runs as it sends."""

    def __init__(self, meanwhile: Callable[[], None] = lambda: None) -> None:
        self.sent: list[tuple[str, str, str]] = []
        self.meanwhile = meanwhile

    def send(self, to: str, subject: str, body: str) -> None:
        self.sent.append((to, subject, body))
        self.meanwhile()


def follower() -> accounts.Account:
    email = f"follower-{ULID()}@example.com".lower()
    return accounts.create(email=email, password_hash="x", plan="FREE", home_region="us-west-2")


def deleted(account: accounts.Account, name: str) -> digests.Line:
    """A document of the follower's deleted by someone else: its lines are always readable."""
    return digests.Line(account.id, str(ULID()), name, DocumentChange.DELETED.value, "editor@example.com", 4, utcnow())


def key_of(message: object) -> str:
    return str(json.loads(message.body)["key"])  # type: ignore[attr-defined]


def test_a_repeated_or_stale_message_sends_nothing(own_tables: str) -> None:
    account = follower()
    mailbox = Mailbox()
    digests.add(account.id, [deleted(account, "plan.txt")])
    scheduled = digests.schedule(account.id, 600)
    assert scheduled is not None
    assert scheduled.delay_seconds == 600
    assert digests.schedule(account.id, 600) is None  # one at a time

    assert follows.send_digest(mailbox, account.id, "not its key", 600) is None
    assert mailbox.sent == []
    assert follows.send_digest(mailbox, account.id, key_of(scheduled), 600) is None
    assert follows.send_digest(mailbox, account.id, key_of(scheduled), 600) is None  # redelivered

    expected = (
        "Changes to documents you follow, since your last digest:\n\n"
        '- "plan.txt": deleted by editor@example.com, version 4\n\n'
        "Sign in to DocStore to see them. To hear no more of a document, unfollow it (unfollowDocument)."
    )
    assert mailbox.sent == [(account.email, "DocStore: 1 change to documents you follow", expected)]
    assert digests.waiting(account.id) == []


def test_a_change_while_the_digest_goes_out_is_scheduled_for_the_next(own_tables: str) -> None:
    account = follower()
    mailbox = Mailbox(lambda: digests.add(account.id, [deleted(account, "late.txt")]))
    digests.add(account.id, [deleted(account, "early.txt")])
    scheduled = digests.schedule(account.id, 600)
    assert scheduled is not None

    following = follows.send_digest(mailbox, account.id, key_of(scheduled), 600)

    assert following is not None
    assert following.delay_seconds == 600
    assert [row.name for row in digests.waiting(account.id)] == ["late.txt"]
    assert len(mailbox.sent) == 1
    assert "early.txt" in mailbox.sent[0][2]
    assert "late.txt" not in mailbox.sent[0][2]
    mailbox.meanwhile = lambda: None
    assert follows.send_digest(mailbox, account.id, key_of(following), 600) is None
    assert [sent[2].count("late.txt") for sent in mailbox.sent] == [0, 1]
