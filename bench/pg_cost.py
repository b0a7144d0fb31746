"""What a window of work cost PostgreSQL: WAL bytes, and CPU of the backends serving a database.

* **WAL**: ``pg_current_wal_lsn()`` before and after. ``pg_wal_lsn_diff`` of the two is the
  whole server's WAL, other databases' writes included; the database's own share is read
  from the WAL itself (``bench.wal_share``) where this process may. A temporary physical
  replication slot, held by the window's connection and gone with it, keeps a checkpoint
  from recycling that WAL before it is read. ``other_commits``
  (transactions committed in the other databases, from ``pg_stat_database``, which PostgreSQL
  updates up to seconds late) says whether the server was otherwise quiet.
* **CPU**: user + system time (psutil) of every backend process connected to the database,
  except the ones given (the bench's own watching connections). ``track()`` during the window
  keeps the latest figure of backends that end before it does. Background processes
  (WAL writer, checkpointer, autovacuum) are not counted.
"""

import contextlib
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import psycopg

from bench import wal_share


@dataclass
class ServerCost:
    wal: wal_share.WalShare | None
    """The database's own WAL records; None where the WAL could not be read."""
    cluster_wal_bytes: int
    backend_cpu_seconds: float
    backends: int
    """Backends of the database seen in the window."""
    other_commits: int


@dataclass
class CostWindow:
    """Open on a database; ``track()`` every few polls; ``close()`` gives the cost."""

    dsn: str
    exclude_pids: frozenset[int] = frozenset()
    _conn: psycopg.Connection[tuple[object, ...]] | None = None
    _start_lsn: str = ""
    _start_other_commits: dict[int, int] = field(default_factory=dict)
    _cpu_at_start: dict[int, float] = field(default_factory=dict)
    _cpu_latest: dict[int, float] = field(default_factory=dict)

    def open(self) -> None:
        self._conn = psycopg.connect(self.dsn, autocommit=True)
        self._hold_wal()
        self._cpu_at_start = self._backend_cpu()
        self._cpu_latest = dict(self._cpu_at_start)
        self._start_lsn, self._start_other_commits = self._server_counters()

    def track(self) -> None:
        self._cpu_latest |= self._backend_cpu()

    def close(self) -> ServerCost:
        self.track()
        end_lsn, other_commits = self._server_counters()
        conn = self._connection()
        row = conn.execute("SELECT pg_wal_lsn_diff(%s, %s)", (end_lsn, self._start_lsn)).fetchone()
        own = self._own_wal(conn, end_lsn)
        conn.close()
        self._conn = None
        cpu = sum(
            latest - self._cpu_at_start.get(pid, 0.0) for pid, latest in self._cpu_latest.items()
        )
        return ServerCost(
            wal=own,
            cluster_wal_bytes=int(str(row[0])) if row else 0,
            backend_cpu_seconds=cpu,
            backends=len(self._cpu_latest),
            other_commits=sum(
                count - self._start_other_commits.get(datid, 0)
                for datid, count in other_commits.items()
            ),
        )

    def _hold_wal(self) -> None:
        """The temporary slot; without it (no free slot, no privilege) the WAL is read all
        the same, and a window that spans a checkpoint may find it gone."""
        with contextlib.suppress(psycopg.Error):
            self._connection().execute(
                "SELECT pg_create_physical_replication_slot(%s, true, true)",
                (f"outboxflow_bench_{uuid.uuid4().hex[:12]}",),
            )

    def _own_wal(
        self, conn: psycopg.Connection[tuple[object, ...]], end_lsn: str
    ) -> wal_share.WalShare | None:
        row = conn.execute(
            "SELECT current_setting('server_version_num')::int,"
            " current_setting('data_directory'),"
            " (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchone()
        if row is None:
            return None
        version, data_dir, oid = int(str(row[0])), str(row[1]), int(str(row[2]))
        waldump = wal_share.waldump_path(version)
        if waldump is None:
            return None
        return wal_share.measure(waldump, Path(data_dir) / "pg_wal", oid, self._start_lsn, end_lsn)

    def _connection(self) -> psycopg.Connection[tuple[object, ...]]:
        if self._conn is None:
            raise RuntimeError("open() the window first")
        return self._conn

    def _server_counters(self) -> tuple[str, dict[int, int]]:
        """The WAL position, and each other database's commits so far (by oid: databases
        come and go on a shared server, so a sum over all of them can fall)."""
        conn = self._connection()
        row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
        if row is None:
            raise RuntimeError("PostgreSQL answered no row for its WAL position")
        commits = conn.execute(
            "SELECT datid, xact_commit FROM pg_stat_database"
            " WHERE datname IS DISTINCT FROM current_database()"
        ).fetchall()
        return str(row[0]), {int(str(datid)): int(str(count)) for datid, count in commits}

    def _backend_cpu(self) -> dict[int, float]:
        conn = self._connection()
        mine = conn.info.backend_pid
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND backend_type = 'client backend'"
        ).fetchall()
        cpu: dict[int, float] = {}
        for (pid,) in rows:
            if not isinstance(pid, int) or pid == mine or pid in self.exclude_pids:
                continue
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                times = psutil.Process(pid).cpu_times()
                cpu[pid] = times.user + times.system
        return cpu
