"""What the bench reads from the product's database: only the ``outbox`` and ``events`` tables.

A delivery is *unfinished* while its outbox row's status is anything but ``done`` or ``dead``
(whatever intermediate states the product uses), so the backlog counts those rows.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg

FINISHED = ("done", "dead")
UNFINISHED_COUNT = (
    "SELECT count(*) FROM outbox WHERE status NOT IN ("
    + ", ".join(f"'{s}'" for s in FINISHED)
    + ")"
)


@dataclass(frozen=True)
class OutboxSample:
    at: float
    unfinished: int
    last_id: int
    """Highest outbox id so far: how many deliveries were ever created, near enough."""


@dataclass(frozen=True)
class DrainTimes:
    last_done_at: float
    """Epoch seconds of the latest ``done_at``."""
    others_last_done_at: float
    """The same, over the rows of every key but the slow ones."""


class OutboxWatch:
    def __init__(self, dsn: str) -> None:
        self._conn = psycopg.connect(dsn, autocommit=True)

    def close(self) -> None:
        self._conn.close()

    @property
    def backend_pid(self) -> int:
        """The PostgreSQL backend serving this watch (to leave out of the server's cost)."""
        return self._conn.info.backend_pid

    def sample(self) -> OutboxSample:
        unfinished = self._scalar(
            "SELECT count(*) FROM outbox WHERE status NOT IN ('done', 'dead')"
        )
        last_id = self._scalar("SELECT coalesce(max(id), 0) FROM outbox")
        return OutboxSample(time.time(), unfinished, last_id)

    def pending(self) -> int:
        return self._scalar("SELECT count(*) FROM outbox WHERE status = 'pending'")

    def events(self) -> int:
        return self._scalar("SELECT count(*) FROM events")

    def wait_drained(
        self, timeout: float, check: Callable[[], None], poll: float = 0.1
    ) -> OutboxSample | None:
        """The first sample with nothing unfinished, or None after ``timeout`` seconds.

        ``check`` runs before each sample and raises when a process the drain needs died.
        """
        deadline = time.time() + timeout
        while True:
            check()
            current = self.sample()
            if current.unfinished == 0:
                return current
            if time.time() >= deadline:
                return None
            time.sleep(poll)

    def make_pending(self, limit: int) -> int:
        """Turn up to ``limit`` done deliveries back into due pending ones; returns how many.

        With the ordering phase's seed (``bench.ordered_seed``), the only write the bench
        makes to a product table: it seeds a relay backlog without stopping the product's
        own immediate dispatch. Lease columns are cleared
        when the table has them.
        """
        columns = {
            row[0]
            for row in self._conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'outbox'"
            )
        }
        assignments = ["status = 'pending'"]
        if "available_at" in columns:
            assignments.append("available_at = now() - interval '1 second'")
        for column in ("lease_until", "claimed_by"):
            if column in columns:
                assignments.append(f"{column} = NULL")
        cursor = self._conn.execute(
            f"UPDATE outbox SET {', '.join(assignments)} WHERE id IN "
            "(SELECT id FROM outbox WHERE status = 'done' ORDER BY id LIMIT %s)",
            (limit,),
        )
        return cursor.rowcount

    def not_done(self, first_id: int, last_id: int) -> tuple[int, int]:
        """Rows with ids ``first_id``…``last_id`` not yet done, and how many of those are
        dead (over the partial index)."""
        row = self._conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE status = 'dead') FROM outbox"
            " WHERE status <> 'done' AND id BETWEEN %s AND %s",
            (first_id, last_id),
        ).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def drain_times(self, first_id: int, last_id: int, slow_keys: list[str]) -> DrainTimes:
        """When the last of the rows ``first_id``…``last_id`` was done, overall and over the
        aggregates not in ``slow_keys``; asked once they all are."""
        row = self._conn.execute(
            "SELECT extract(epoch FROM max(o.done_at)),"
            " extract(epoch FROM max(o.done_at) FILTER (WHERE e.aggregate_id <> ALL(%s)))"
            " FROM outbox o JOIN events e ON e.event_id = o.event_id"
            " WHERE o.id BETWEEN %s AND %s",
            (slow_keys, first_id, last_id),
        ).fetchone()
        if row is None or row[0] is None or row[1] is None:
            raise ValueError(f"no done deliveries between ids {first_id} and {last_id}")
        return DrainTimes(float(row[0]), float(row[1]))

    def _scalar(self, query: str) -> int:
        row = self._conn.execute(query).fetchone()
        return int(row[0]) if row else 0
