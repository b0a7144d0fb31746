"""Which failures retry, how long the next attempt waits, and the limits that keep it safe."""

import random
from datetime import timedelta

import pytest
import sqlalchemy as sa
from celery import Celery
from celery.exceptions import SoftTimeLimitExceeded

from app.application.errors import (
    CorruptMessage,
    PermanentFailure,
    TransientFailure,
    UnknownEventType,
    UnprocessableMessage,
    UnsupportedSchemaVersion,
)
from app.application.failure_policy import FailurePolicy
from app.bootstrap import failure_policy
from app.config import Settings
from app.domain.errors import ConcurrencyConflict, InvalidCommand, NotFound
from app.infrastructure.messaging.celery_app import REDIS_VISIBILITY_TIMEOUT

SAMPLES = 400


def is_permanent(exc: BaseException) -> bool:
    return failure_policy(Settings(), _celery(60)).is_permanent(exc)


def retry_countdown(attempt: int, *, base: float, cap: float) -> int:
    policy = FailurePolicy(8, backoff_base=base, backoff_cap=cap, task_lease=timedelta(0))
    return policy.countdown(attempt)


@pytest.mark.parametrize(
    "exc",
    [
        PermanentFailure("POST https://hooks.example answered 400"),
        UnprocessableMessage("bad"),
        CorruptMessage("envelope is missing event_id"),
        UnknownEventType("order.teleported"),
        UnsupportedSchemaVersion("order.created v99"),
        InvalidCommand("quantity must be positive", field="quantity"),
        NotFound("user u-1 has no contact details"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_permanent_failures_go_straight_to_dead_letter(exc: Exception) -> None:
    assert is_permanent(exc)


@pytest.mark.parametrize(
    "exc",
    [
        TransientFailure("POST https://hooks.example answered 503"),
        sa.exc.OperationalError("UPDATE outbox", {}, Exception("server closed the connection")),
        sa.exc.DBAPIError("SELECT 1", {}, Exception("connection reset")),
        SoftTimeLimitExceeded(),
        ConcurrencyConflict("order o-1 moved on to version 3"),
        KeyError("sku"),
        ConnectionError("refused"),
        TimeoutError(),
    ],
    ids=lambda e: type(e).__name__,
)
def test_everything_else_is_retried(exc: Exception) -> None:
    assert not is_permanent(exc)


def test_a_soft_time_limit_is_transient_even_when_raised_as_a_permanent_subclass() -> None:
    class SlowAndBroken(SoftTimeLimitExceeded, PermanentFailure):
        pass

    assert not is_permanent(SlowAndBroken())


@pytest.mark.parametrize("attempt", [1, 2, 3, 5, 8])
def test_countdown_stays_within_full_jitter_bounds(attempt: int) -> None:
    random.seed(attempt)
    base, cap = 2, 600
    ceiling = min(cap, base * 2 ** (attempt - 1))
    seen = {retry_countdown(attempt, base=base, cap=cap) for _ in range(SAMPLES)}
    assert min(seen) >= 0
    assert max(seen) <= ceiling
    # Full jitter spreads over the whole range, not a fixed or doubled value.
    assert len(seen) > min(ceiling, 10) // 2
    assert max(seen) >= ceiling * 0.75


def test_countdown_never_passes_the_cap_however_many_attempts() -> None:
    random.seed(7)
    cap = 30
    samples = [retry_countdown(attempt, base=2, cap=cap) for attempt in range(1, 60)]
    samples += [retry_countdown(40, base=2, cap=cap) for _ in range(SAMPLES)]
    assert all(0 <= s <= cap for s in samples)
    assert max(samples) >= cap * 0.9, "late attempts should reach the cap region"


def test_countdown_of_the_first_attempt_is_at_most_the_base() -> None:
    random.seed(3)
    assert {retry_countdown(1, base=5, cap=600) for _ in range(SAMPLES)} <= set(range(6))


def _celery(time_limit: int | None) -> Celery:
    celery = Celery("policy-test", set_as_current=False)
    celery.conf.task_time_limit = time_limit
    return celery


def test_retry_policy_takes_attempts_and_base_from_settings() -> None:
    settings = Settings(outbox_max_attempts=5, outbox_retry_backoff_seconds=3)
    policy = failure_policy(settings, _celery(60))
    assert (policy.max_attempts, policy.backoff_base) == (5, 3)


def test_retry_policy_keeps_the_configured_cap_when_it_is_safe() -> None:
    settings = Settings(outbox_retry_backoff_max_seconds=120)
    assert failure_policy(settings, _celery(60)).backoff_cap == 120


@pytest.mark.parametrize("time_limit", [60, 300, 900])
@pytest.mark.parametrize("margin", [0, 30, 120])
def test_retry_policy_caps_backoff_below_the_redis_visibility_timeout(
    time_limit: int, margin: int
) -> None:
    settings = Settings(
        outbox_retry_backoff_max_seconds=10 * REDIS_VISIBILITY_TIMEOUT,
        outbox_lease_margin_seconds=margin,
    )
    policy = failure_policy(settings, _celery(time_limit))
    assert policy.backoff_cap == REDIS_VISIBILITY_TIMEOUT - time_limit - margin
    # The longest countdown plus one whole attempt still ends inside the visibility timeout.
    longest = max(retry_countdown(50, base=2, cap=policy.backoff_cap) for _ in range(50))
    assert longest + time_limit + margin <= REDIS_VISIBILITY_TIMEOUT


@pytest.mark.parametrize(("time_limit", "margin"), [(60, 30), (300, 0), (45, 15)])
def test_task_lease_is_the_hard_time_limit_plus_the_margin(time_limit: int, margin: int) -> None:
    settings = Settings(outbox_lease_margin_seconds=margin)
    policy = failure_policy(settings, _celery(time_limit))
    assert policy.task_lease == timedelta(seconds=time_limit + margin)


def test_without_a_time_limit_the_policy_assumes_five_minutes() -> None:
    settings = Settings(outbox_lease_margin_seconds=30)
    policy = failure_policy(settings, _celery(None))
    assert policy.task_lease == timedelta(seconds=330)
    assert policy.backoff_cap <= REDIS_VISIBILITY_TIMEOUT - 330


def test_the_cap_never_drops_below_one_second() -> None:
    settings = Settings(outbox_lease_margin_seconds=REDIS_VISIBILITY_TIMEOUT)
    assert failure_policy(settings, _celery(60)).backoff_cap == 1
