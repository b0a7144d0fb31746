"""Bounded polling: every wait in the suite has a deadline and says what it waited for."""

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """A condition did not come true in time; the message says which and what was seen."""


def wait_until(
    probe: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    interval: float = 0.1,
    describe: Callable[[], str] | None = None,
) -> T:
    """Call ``probe`` until it returns something truthy; return that value.

    On timeout raise ``WaitTimeout`` naming ``what`` and, if given, ``describe()``'s
    account of the current state (the last probe value otherwise).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            seen = describe() if describe is not None else f"last value: {value!r}"
            raise WaitTimeout(f"timed out after {timeout:.1f}s waiting for {what}; {seen}")
        time.sleep(interval)
