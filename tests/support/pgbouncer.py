"""A private PgBouncer in transaction pooling mode, in front of the shared PostgreSQL.

Debian's ``pgbouncer`` refuses to run as root; when the tests do, it is started with
``-u nobody``, so its directory is made readable by everyone (the pytest base directory
is not: ``PGBOUNCER_DIR`` under ``/tmp`` is used instead). Its admin console answers
``SHOW STATS`` for the test to see the traffic went through it.
"""

import os
import shutil
import tempfile
from pathlib import Path

import psycopg

from tests.support.databases import POSTGRES_PORT
from tests.support.processes import ManagedProcess
from tests.support.services import HOST, free_port, port_open, service_unavailable
from tests.support.waiting import wait_until

USER = "postgres"


class PgBouncer:
    def __init__(self) -> None:
        binary = shutil.which("pgbouncer")
        if binary is None:
            service_unavailable("pgbouncer is not installed (Debian's package pgbouncer)")
        self.directory = Path(tempfile.mkdtemp(prefix="of-pgbouncer-"))
        self.directory.chmod(0o755)
        self.port = free_port()
        (self.directory / "userlist.txt").write_text(f'"{USER}" ""\n')
        config = self.directory / "pgbouncer.ini"
        config.write_text(
            "[databases]\n"
            f"* = host={HOST} port={POSTGRES_PORT}\n"
            "[pgbouncer]\n"
            f"listen_addr = {HOST}\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {self.directory / 'userlist.txt'}\n"
            f"admin_users = {USER}\npool_mode = transaction\n"
            "max_client_conn = 500\ndefault_pool_size = 8\n"
            "ignore_startup_parameters = extra_float_digits,options\n"
        )
        for path in self.directory.iterdir():
            path.chmod(0o644)
        as_user = ["-u", "nobody"] if os.geteuid() == 0 else []
        self.process = ManagedProcess(
            f"pgbouncer:{self.port}",
            [binary, *as_user, str(config)],
            env=dict(os.environ),
            cwd=self.directory,
            log_path=self.directory / "pgbouncer.log",
        )

    def start(self) -> "PgBouncer":
        self.process.start()

        def listening() -> bool:
            self.process.check_alive()
            return port_open(self.port)

        wait_until(listening, timeout=15, what="pgbouncer to listen", describe=self.process.tail)
        return self

    def url_for(self, direct_url: str) -> str:
        """``direct_url`` (PostgreSQL on its own port) through this pooler instead."""
        return direct_url.replace(f":{POSTGRES_PORT}/", f":{self.port}/")

    def transactions(self, database: str) -> int:
        """Transactions the pooler has carried for ``database`` so far."""
        with psycopg.connect(
            host=HOST, port=self.port, user=USER, dbname="pgbouncer", autocommit=True
        ) as conn:
            cursor = conn.execute("SHOW STATS")
            names = [column.name for column in cursor.description or ()]
            for row in cursor.fetchall():
                stats = dict(zip(names, row, strict=True))
                if stats["database"] == database:
                    return int(stats["total_xact_count"])
        return 0

    def close(self) -> None:
        self.process.kill()
        shutil.rmtree(self.directory, ignore_errors=True)
