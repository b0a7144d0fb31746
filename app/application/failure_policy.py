"""The failure policy: which failures are retried, how long to wait, when to give up.

Every delivery failure is decided here, and only here: the delivery use case asks
``decide`` and acts on the answer (retry later, or dead-letter now).
"""

import random
from dataclasses import dataclass
from datetime import timedelta

from app.application.errors import PermanentFailure
from app.domain.errors import InvalidCommand, NotFound


class AttemptsExhausted(Exception):
    """The delivery started too many times without finishing (worker killed, hard timeout)."""


@dataclass(frozen=True)
class RetryIn:
    """Try again after ``countdown`` seconds."""

    countdown: int


@dataclass(frozen=True)
class GiveUp:
    """Dead-letter the delivery now."""


Decision = RetryIn | GiveUp


@dataclass(frozen=True)
class FailurePolicy:
    max_attempts: int
    """The ceiling for every handler; a handler may only lower it."""
    backoff_base: float
    backoff_cap: float
    task_lease: timedelta
    """How long one attempt may run (the hard time limit plus a margin)."""
    always_transient: tuple[type[BaseException], ...] = ()
    """Failures retried whatever else they are (the task runner's soft time limit)."""

    def is_permanent(self, exc: BaseException) -> bool:
        """Permanent: the message or the receiver's verdict will not change on a retry.

        A domain refusal that names something missing (``NotFound``) or a rule the event
        breaks (``InvalidCommand``) gives the same answer on every attempt. Everything
        else (connections, timeouts, 5xx, lock and version conflicts, and bugs we do not
        recognise) is retried up to the handler's attempt limit, then dead-lettered.
        """
        if isinstance(exc, self.always_transient):
            return False
        return isinstance(exc, PermanentFailure | InvalidCommand | NotFound | AttemptsExhausted)

    def attempt_limit(self, handler_limit: int | None) -> int:
        if handler_limit is None:
            return self.max_attempts
        return min(self.max_attempts, handler_limit)

    def countdown(self, attempt: int) -> int:
        """Exponential backoff with full jitter: 0..min(cap, base * 2**(attempt - 1))."""
        ceiling = min(self.backoff_cap, max(1, round(self.backoff_base)) * 2 ** max(0, attempt - 1))
        return random.randint(0, int(ceiling))

    def decide(self, exc: BaseException, attempt: int, limit: int) -> Decision:
        if self.is_permanent(exc) or attempt >= limit:
            return GiveUp()
        return RetryIn(self.countdown(attempt))

    def retry_lease(self, countdown: int) -> timedelta:
        """Keep the relay off a delivery until its scheduled retry has had time to run."""
        return timedelta(seconds=countdown) + self.task_lease
