"""Progress lines on stderr, each with the seconds since the run started."""

import sys
import time


class Progress:
    """Progress lines on stderr; also where a swallowed interrupt comes back.

    Python drops an exception raised in a finalizer, so a Ctrl-C that lands while one runs
    would be lost: ``interrupt`` records it, and the next progress line raises it again.
    """

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.interrupted_by: int | None = None

    def interrupt(self, signum: int, _frame: object) -> None:
        """Signal handler for SIGINT and SIGTERM."""
        self.interrupted_by = signum
        raise KeyboardInterrupt(f"signal {signum}")

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def say(self, message: str) -> None:
        if self.interrupted_by is not None:
            raise KeyboardInterrupt(f"signal {self.interrupted_by}")
        self.note(message)

    def note(self, message: str) -> None:
        """A progress line even after an interrupt (for the clean-up)."""
        print(f"[{self.elapsed():6.1f}s] {message}", file=sys.stderr, flush=True)
