"""The following relay: publishes deliveries as the commands that wrote them commit.

Commands only write (state, events, ``pending`` deliveries); this long-running loop turns the
deliveries into Celery tasks. It sweeps when woken and at least every ``idle_seconds``:

* on PostgreSQL it LISTENs on ``outbox_pending``, which a trigger on the outbox's inserts
  NOTIFYs; PostgreSQL delivers a NOTIFY only when its transaction commits, so a wake-up
  always finds committed rows;
* on SQLite it asks every ``POLL_SECONDS`` whether a pending delivery exists (a read, which
  WAL never makes wait for a writer).

The idle sweep takes what no wake-up announces: retries coming due, leases of dead workers
running out. Several followers may run at once: claims are ``SKIP LOCKED`` (SQLite
serialises them), so they share the work and never publish a claimed row twice. The first
sweep checks the broker's canary, placing it if this broker has none, so a broker that
restarts empty before any worker ran is recovered as fast as one that restarts later.
"""

import logging
import socket
import threading
import time
from typing import Protocol

import psycopg
import sqlalchemy as sa

from app.infrastructure.messaging.relay import OutboxRelay
from app.infrastructure.persistence import relay_heartbeats
from app.infrastructure.persistence.outbox import has_pending

log = logging.getLogger(__name__)

CHANNEL = "outbox_pending"
POLL_SECONDS = 0.02
HEARTBEAT_SECONDS = 1.0
BROKER_CHECK_SECONDS = 1.0
ERROR_PAUSE_SECONDS = 1.0
STOP_CHECK_SECONDS = 0.25


class Wakeups(Protocol):
    def wait(self, timeout: float) -> bool:
        """True as soon as deliveries may have been committed; False after ``timeout``."""

    def close(self) -> None: ...


class PostgresWakeups:
    """LISTEN on a connection of its own, outside the pool, in autocommit mode."""

    def __init__(self, engine: sa.Engine) -> None:
        url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._conn = psycopg.connect(url, autocommit=True)
        self._conn.execute(f"LISTEN {CHANNEL}")

    def wait(self, timeout: float) -> bool:
        return any(True for _notify in self._conn.notifies(timeout=timeout, stop_after=1))

    def close(self) -> None:
        self._conn.close()


class PollingWakeups:
    """Asks the database whether anything is pending, every ``POLL_SECONDS``."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
            with self._engine.connect() as conn:
                if has_pending(conn):
                    return True
        return False

    def close(self) -> None:
        pass


def wakeups_for(engine: sa.Engine) -> Wakeups:
    if engine.dialect.name == "postgresql":
        return PostgresWakeups(engine)
    return PollingWakeups(engine)


class RelayFollower:
    def __init__(
        self,
        relay: OutboxRelay,
        engine: sa.Engine,
        *,
        idle_seconds: float,
        listening: sa.Engine | None = None,
        host: str | None = None,
    ) -> None:
        """``listening``: the engine whose database it LISTENs on (default ``engine``);
        behind a transaction pooler, one that goes around it. ``host``: the name its
        heartbeat is recorded under (default the machine's hostname)."""
        self._relay = relay
        self._engine = engine
        self._listening = engine if listening is None else listening
        self._idle_seconds = idle_seconds
        self._host = socket.gethostname() if host is None else host
        self._last_beat = self._last_broker_check = float("-inf")

    def follow(self, stop: threading.Event) -> None:
        """Sweep, then wait for a commit or the idle timeout, until ``stop`` is set.

        A database or broker that fails is logged and tried again after a pause: a relay
        that exits would leave every command's deliveries to the beat sweep.
        """
        wakeups: Wakeups | None = None
        while not stop.is_set():
            try:
                if wakeups is None:
                    wakeups = wakeups_for(self._listening)
                self._sweep()
                self._wait(wakeups, stop)
            except Exception:
                log.exception("relay: the loop failed; trying again in %ss", ERROR_PAUSE_SECONDS)
                if wakeups is not None:
                    self._close_quietly(wakeups)
                    wakeups = None
                stop.wait(ERROR_PAUSE_SECONDS)
        if wakeups is not None:
            self._close_quietly(wakeups)

    def _wait(self, wakeups: Wakeups, stop: threading.Event) -> None:
        """Until a wake-up, ``idle_seconds``, or ``stop``: waits in slices, so a stop (SIGTERM)
        is heard within ``STOP_CHECK_SECONDS``."""
        deadline = time.monotonic() + self._idle_seconds
        while not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0 or wakeups.wait(min(STOP_CHECK_SECONDS, remaining)):
                return

    def _sweep(self) -> None:
        now = time.monotonic()
        check_broker = now - self._last_broker_check >= BROKER_CHECK_SECONDS
        if check_broker:
            self._last_broker_check = now
        report = self._relay.sweep(check_broker=check_broker)
        report.log(log)
        if now - self._last_beat >= HEARTBEAT_SECONDS:
            self._last_beat = now
            with self._engine.begin() as conn:
                relay_heartbeats.beat(conn, self._host)

    @staticmethod
    def _close_quietly(wakeups: Wakeups) -> None:
        try:
            wakeups.close()
        except Exception:
            log.debug("relay: closing the wake-up connection failed", exc_info=True)
