"""Run as a process: one relay sweep that dies (SIGKILL) right after publishing.

``python -m tests.faults.relay_crash`` with a stack's environment. The crash happens
where a real relay is most exposed: the broker has the messages, the database does
not yet say they were dispatched.
"""

import os
import signal
from typing import Any

from app import create_app
from app.container import container_of
from app.infrastructure.persistence import outbox


def _die_instead_of_marking(*_args: Any, **_kwargs: Any) -> None:
    print("relay-crash: published, now dying before marking dispatched", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    app = create_app()
    container = container_of(app)
    outbox.mark_dispatched = _die_instead_of_marking
    with app.app_context():
        container.relay.sweep(time_budget=30)
    raise SystemExit("relay-crash: the sweep returned without publishing anything")


if __name__ == "__main__":
    main()
