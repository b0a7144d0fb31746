"""The WAL one database wrote between two positions, read from the server's WAL with pg_waldump.

WAL is one stream for the whole server: on a shared machine other people's databases write
into the same window, and ``pg_wal_lsn_diff`` counts their bytes too. ``pg_waldump`` lists
every record with its length (full-page images included), its transaction, and the
relations it changes (``rel <tablespace>/<database oid>/<relfilenode>``). A record belongs to
the database when it changes one of its relations, or when it is the commit (or abort) of
a transaction that did; page headers and the server's own records (checkpoints, running
transactions) belong to nobody.

This reads the server's files (``pg_waldump`` beside the server's binaries, and the data
directory's ``pg_wal``), so it needs the privileges to read them: on a machine where they
are missing, ``measure`` returns None and the caller falls back to the server-wide figure.
"""

import re
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

RECORD = re.compile(
    r"rmgr: (?P<rmgr>\S+)\s+len \(rec/tot\):\s*(?P<rec>\d+)/\s*(?P<tot>\d+), tx:\s*(?P<tx>\d+),"
)
RELATION = re.compile(r"rel \d+/(?P<db>\d+)/\d+")
TIMEOUT = 120.0


def waldump_path(server_version_num: int) -> Path | None:
    """``pg_waldump`` of the server's major version, or the first on PATH."""
    packaged = Path(f"/usr/lib/postgresql/{server_version_num // 10000}/bin/pg_waldump")
    if packaged.exists():
        return packaged
    found = shutil.which("pg_waldump")
    return Path(found) if found else None


@dataclass(frozen=True)
class WalShare:
    by_rmgr: dict[str, int] = field(default_factory=dict)
    """Bytes per resource manager (Heap, Heap2, Btree, Transaction, …)."""
    page_images: int = 0
    """Of which full-page images (the first change to a page after a checkpoint)."""

    @property
    def total(self) -> int:
        return sum(self.by_rmgr.values())


def measure(
    waldump: Path, wal_dir: Path, database_oid: int, start_lsn: str, end_lsn: str
) -> WalShare | None:
    """The WAL records from ``start_lsn`` to ``end_lsn`` that belong to the database; None
    when pg_waldump cannot read them."""
    if start_lsn == end_lsn:
        return WalShare()
    try:
        done = subprocess.run(
            [str(waldump), "--path", str(wal_dir), "--start", start_lsn, "--end", end_lsn],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0 and not done.stdout:
        return None
    return attributed_bytes(done.stdout.splitlines(), database_oid)


def attributed_bytes(lines: list[str], database_oid: int) -> WalShare:
    """The records' total lengths that belong to the database (see the module)."""
    oid = str(database_oid)
    ours: set[str] = set()
    unplaced: list[tuple[str, str, int]] = []
    by_rmgr: Counter[str] = Counter()
    images = 0
    for line in lines:
        record = RECORD.search(line)
        if record is None:
            continue
        rmgr, size, tx = record["rmgr"], int(record["tot"]), record["tx"]
        databases = {found["db"] for found in RELATION.finditer(line)}
        if oid in databases:
            by_rmgr[rmgr] += size
            images += size - int(record["rec"])
            if tx != "0":
                ours.add(tx)
        elif not databases and tx != "0":
            unplaced.append((rmgr, tx, size))
    for rmgr, tx, size in unplaced:
        if tx in ours:
            by_rmgr[rmgr] += size
    return WalShare(dict(by_rmgr), images)
