"""One retry policy for the writes that lose a race, and one way of giving up per kind of race.

A write conditioned on what it read fails when something else changed that in between: a plan
change lands while a document is counted, two workers move the same quota level. Such a write is
an attempt (a function of the attempt's number, from 1) that reads, writes with its conditions in
one request or transaction, and raises :class:`Conflict` when one of them failed because of the
race. An attempt that raises writes nothing, so whatever it left is the state before it.

:func:`retry` runs the attempt again after a pause that grows exponentially, with full jitter
(tenacity's ``wait_random_exponential``: a random pause up to ``FIRST_WAIT_SECONDS`` × 2ⁿ, at most
``MAX_WAIT_SECONDS``), so racing writers spread out instead of colliding again, up to the kind's
number of attempts. Past them it gives up the one way that kind does, with a typed error a
resolver shows as a sentence (``models.errors``):

- :attr:`Race.PLAN`: the account's plan, or what is counted under it, kept changing (counting a
  document or an account, deleting one, reserving or counting an upload, changing the plan):
  :class:`~models.errors.PlanRace`. Attempts: ``DOCSTORE_PLAN_RACE_ATTEMPTS``.
- :attr:`Race.QUOTA_LEVEL`: other workers kept moving the account's quota level while this one
  evaluated it: :class:`~models.errors.QuotaLevelRace`. Attempts: ``DOCSTORE_QUOTA_LEVEL_ATTEMPTS``.

The attempts are process-wide, set from the settings once (:func:`configure`, called where the
runtime points the models at their tables), like the tables' names.
"""

from __future__ import annotations

import logging
from enum import Enum
from typing import TYPE_CHECKING, TypeVar

from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from models.errors import PlanRace, QuotaLevelRace, RaceLost

if TYPE_CHECKING:
    from collections.abc import Callable

log = logging.getLogger(__name__)

T = TypeVar("T")

#: The first pause's ceiling; each attempt doubles it, up to MAX_WAIT_SECONDS.
FIRST_WAIT_SECONDS = 0.01
MAX_WAIT_SECONDS = 0.5


class Conflict(Exception):
    """Raised by an attempt whose condition failed because what it read changed meanwhile."""


class Race(Enum):
    """The kinds of race, each with its number of attempts and the error that ends it."""

    PLAN = "plan"
    QUOTA_LEVEL = "quota level"


#: Attempts per kind, defaults as in ``settings.Settings``.
_attempts: dict[Race, int] = {Race.PLAN: 10, Race.QUOTA_LEVEL: 5}
_errors: dict[Race, Callable[[str, int], RaceLost]] = {Race.PLAN: PlanRace, Race.QUOTA_LEVEL: QuotaLevelRace}


def configure(*, plan_race_attempts: int, quota_level_attempts: int) -> None:
    """Set how often each kind of race is tried, for the whole process (from the settings)."""
    if plan_race_attempts < 1 or quota_level_attempts < 1:
        raise ValueError("a write is tried at least once")
    _attempts[Race.PLAN] = plan_race_attempts
    _attempts[Race.QUOTA_LEVEL] = quota_level_attempts


def attempts(kind: Race) -> int:
    """How often a race of ``kind`` is tried before it is given up."""
    return _attempts[kind]


def retry(kind: Race, account_id: str, attempt: Callable[[int], T]) -> T:
    """``attempt(1)``, and while it raises :class:`Conflict`, ``attempt(2)``, ... after a growing,
    jittered pause; its result. Past the kind's attempts, the kind's error (every attempt having
    written nothing). Any other exception ends it at once, as it is."""
    limit = _attempts[kind]
    retrying = Retrying(
        retry=retry_if_exception_type(Conflict),
        stop=stop_after_attempt(limit),
        wait=wait_random_exponential(multiplier=FIRST_WAIT_SECONDS, max=MAX_WAIT_SECONDS),
    )
    try:
        for state in retrying:
            with state:
                return attempt(state.retry_state.attempt_number)
    except RetryError:
        error = _errors[kind](account_id, limit)
        log.warning("gave up after %d attempts: %s", limit, error)
        raise error from None
    raise AssertionError("tenacity stopped without an outcome")  # pragma: no cover
