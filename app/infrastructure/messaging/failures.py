"""Which failures are worth retrying, and how long to wait before the next attempt."""

from celery.exceptions import SoftTimeLimitExceeded
from celery.utils.time import get_exponential_backoff_interval

from app.application.errors import PermanentFailure
from app.domain.errors import InvalidCommand, NotFound


def is_permanent(exc: BaseException) -> bool:
    """Permanent: the message or the receiver's verdict will not change on a retry.

    A domain refusal that names something missing (``NotFound``) or a rule the event
    breaks (``InvalidCommand``) gives the same answer on every attempt. Everything else
    (connections, timeouts, 5xx, lock and version conflicts, and bugs we do not
    recognise) is retried up to the handler's attempt limit, then dead-lettered.
    """
    if isinstance(exc, SoftTimeLimitExceeded):
        return False
    return isinstance(exc, PermanentFailure | InvalidCommand | NotFound)


def retry_countdown(attempt: int, *, base: float, cap: float) -> int:
    """Exponential backoff with full jitter (Celery's own formula): 0..min(cap, base*2^n)."""
    return int(
        get_exponential_backoff_interval(
            factor=max(1, round(base)),
            retries=max(0, attempt - 1),
            maximum=int(cap),
            full_jitter=True,
        )
    )
