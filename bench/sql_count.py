"""Counts the SQL round trips a product process makes, from SQLAlchemy's engine events.

PostgreSQL here has no ``pg_stat_statements`` (it is not in ``shared_preload_libraries``, and
the bench does not reconfigure a shared server), and ``pg_stat_database`` reaches its counters
up to ten seconds late, so statements are counted where they are sent. ``install()`` listens
on every SQLAlchemy ``Engine`` of the process (class-level events, so engines built later
count too); a daemon thread per process writes the running totals to
``$BENCH_SQL_COUNT_DIR/<pid>.sql.json`` every ``FLUSH_SECONDS``: read them a little longer than
that after the work you measure has ended. Prefork pool children start their own thread.

A round trip is a statement, or the BEGIN and the COMMIT (or ROLLBACK) of an explicit
transaction; an autocommit statement is a transaction of its own, with no BEGIN. The
relay's LISTEN connection (raw psycopg) is not counted: it sends one statement at start-up.

``python -m bench.sql_count PROGRAM ARGS…`` runs an installed console script (``flask``) in
this process with the counter installed: the Procfile's command line, observed.
"""

import json
import os
import sys
import threading
import time
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

COUNT_DIR_ENV = "BENCH_SQL_COUNT_DIR"
FLUSH_SECONDS = 0.2


@dataclass(frozen=True)
class RoundTrips:
    statements: int = 0
    transactions: int = 0
    """Explicit transactions (each a BEGIN and a COMMIT or ROLLBACK round trip)."""

    @property
    def round_trips(self) -> int:
        return self.statements + 2 * self.transactions

    def __sub__(self, other: "RoundTrips") -> "RoundTrips":
        return RoundTrips(
            self.statements - other.statements, self.transactions - other.transactions
        )


_counts = {"statements": 0, "transactions": 0}
_writing = False
_lock = threading.Lock()


def install_if_asked() -> None:
    """``install()`` when ``BENCH_SQL_COUNT_DIR`` is set; nothing otherwise."""
    if os.environ.get(COUNT_DIR_ENV):
        install()


def install() -> None:
    """Count from now on; with ``BENCH_SQL_COUNT_DIR`` set, write the totals there too."""
    import sqlalchemy as sa

    sa.event.listen(sa.engine.Engine, "begin", _on_begin)
    sa.event.listen(sa.engine.Engine, "before_cursor_execute", _on_statement)
    os.register_at_fork(after_in_child=_forget_parent)


def uninstall() -> None:
    """Stop counting (a process that was only measured for a while)."""
    import sqlalchemy as sa

    sa.event.remove(sa.engine.Engine, "begin", _on_begin)
    sa.event.remove(sa.engine.Engine, "before_cursor_execute", _on_statement)


def current() -> dict[str, int]:
    """This process's totals so far: ``statements`` and ``transactions``."""
    with _lock:
        return dict(_counts)


def _forget_parent() -> None:
    """A forked child (a prefork pool process) counts from zero, in a file of its own; its
    lock is new, as the parent's writer thread may have held the old one at the fork."""
    global _lock, _writing
    _lock = threading.Lock()
    _writing = False
    _counts.update(statements=0, transactions=0)


def _on_begin(conn: Any) -> None:
    if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
        _count("transactions")


def _on_statement(*_: Any) -> None:
    _count("statements")


def _count(kind: str) -> None:
    global _writing
    with _lock:
        _counts[kind] += 1
        if not _writing and os.environ.get(COUNT_DIR_ENV):
            _writing = True
            threading.Thread(target=_write_forever, name="sql-count", daemon=True).start()


def _write_forever() -> None:
    target = Path(os.environ[COUNT_DIR_ENV]) / f"{os.getpid()}.sql.json"
    scratch = target.with_suffix(".tmp")
    while True:
        snapshot = current()
        scratch.write_text(json.dumps(snapshot))
        scratch.replace(target)
        time.sleep(FLUSH_SECONDS)


def read_totals(*directories: Path) -> RoundTrips:
    """The sum of every process's latest totals in these directories."""
    statements = transactions = 0
    for directory in directories:
        for path in directory.glob("*.sql.json"):
            counts = json.loads(path.read_text())
            statements += int(counts["statements"])
            transactions += int(counts["transactions"])
    return RoundTrips(statements, transactions)


def main(argv: list[str]) -> None:
    """Run the console script ``argv[0]`` (a name or a path to it) with ``argv[1:]``."""
    if not argv:
        raise SystemExit("usage: python -m bench.sql_count PROGRAM [ARGS…]")
    name = Path(argv[0]).name
    found = entry_points(group="console_scripts", name=name)
    if not found:
        raise SystemExit(f"no installed console script is called {name}")
    install()
    sys.argv = [name, *argv[1:]]
    sys.exit(next(iter(found)).load()())


if __name__ == "__main__":
    main(sys.argv[1:])
