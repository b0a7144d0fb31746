"""Test databases: a SQLite file or a fresh PostgreSQL database, schema from the migrations.

The schema always comes from ``flask db upgrade`` run as a subprocess (never ``create_all``),
which also keeps Alembic's logging setup out of the test process. It runs once per test
process and kind, into a template that every migrated test database is copied from: the
SQLite file is copied, PostgreSQL clones it with ``CREATE DATABASE ... TEMPLATE``. A copy
takes milliseconds where a migration takes seconds.
"""

import atexit
import contextlib
import functools
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

import psycopg
import sqlalchemy as sa
from psycopg import sql

from app.config import Settings
from app.infrastructure.persistence.database import engine_options, tune_engine
from tests.support.services import HOST

POSTGRES_PORT = 5432
POSTGRES_ADMIN_DSN = f"host={HOST} port={POSTGRES_PORT} user=postgres dbname=postgres"
FLASK = str(Path(sys.executable).with_name("flask"))
SETTING_NAMES = frozenset(f.name.upper() for f in fields(Settings))


@dataclass(frozen=True)
class Database:
    kind: str
    """``sqlite`` or ``postgresql``."""
    url: str
    name: str


def process_env(settings_env: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without any outboxflow setting, plus ``settings_env``;
    ``flask`` commands started with it do not read a ``.env``."""
    env = {k: v for k, v in os.environ.items() if k not in SETTING_NAMES}
    env.update(settings_env)
    env["PYTHONUNBUFFERED"] = "1"
    # A developer's .env must not reach a test's flask commands.
    env["FLASK_SKIP_DOTENV"] = "1"
    return env


def run_flask(
    args: list[str], settings_env: Mapping[str, str], *, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """Run ``flask --app app <args>`` with the given settings; never raises on exit status."""
    return subprocess.run(
        [FLASK, "--app", "app", *args],
        env=process_env(settings_env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def migrate(url: str, instance_dir: Path) -> None:
    """``flask db upgrade`` against ``url``; raises with Alembic's output if it fails."""
    done = run_flask(["db", "upgrade"], {"DATABASE_URL": url, "INSTANCE_DIR": str(instance_dir)})
    if done.returncode != 0:
        raise RuntimeError(
            f"flask db upgrade failed ({done.returncode}) for {url}:\n{done.stdout}\n{done.stderr}"
        )


def sqlite_database(directory: Path, name: str = "outboxflow") -> Database:
    """An empty SQLite file database inside ``directory`` (not migrated)."""
    directory.mkdir(parents=True, exist_ok=True)
    return Database("sqlite", f"sqlite:///{directory / (name + '.db')}", name)


def sqlite_path(database: Database) -> Path:
    return Path(database.url.removeprefix("sqlite:///"))


@functools.cache
def migrated_sqlite_template() -> Path:
    """This process's migrated SQLite file (built on first use, removed at exit).

    Its journal is switched back from WAL to a rollback journal, so the one file holds
    the whole schema and a plain file copy is a complete database.
    """
    directory = Path(tempfile.mkdtemp(prefix="outboxflow-schema-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    template = sqlite_database(directory / "template")
    migrate(template.url, directory / "instance")
    with contextlib.closing(sqlite3.connect(sqlite_path(template))) as conn:
        conn.execute("PRAGMA journal_mode=DELETE")
    return sqlite_path(template)


def copy_migrated_sqlite(target: Path) -> None:
    """Write a migrated SQLite database to ``target`` (a copy of the template)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(migrated_sqlite_template(), target)


class PostgresAdmin:
    """Creates and drops throwaway databases named ``of_test_<hex>`` on the shared server.

    ``create_migrated`` clones this admin's migrated template (built on first use);
    ``close`` drops the template.
    """

    def __init__(self, dsn: str = POSTGRES_ADMIN_DSN) -> None:
        self._dsn = dsn
        self._template: str | None = None

    def ping(self) -> str | None:
        """None when the server answers, else why not."""
        try:
            with psycopg.connect(self._dsn, connect_timeout=3, autocommit=True) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as exc:
            return f"PostgreSQL at {HOST}:{POSTGRES_PORT} is not reachable: {exc}".strip()
        return None

    def create(self, *, template: str | None = None) -> Database:
        """A new database: empty, or a copy of ``template`` (which nobody may be using)."""
        name = f"of_test_{uuid.uuid4().hex[:16]}"
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        with psycopg.connect(self._dsn, connect_timeout=5, autocommit=True) as conn:
            conn.execute(statement)
        url = f"postgresql+psycopg://postgres@{HOST}:{POSTGRES_PORT}/{name}"
        return Database("postgresql", url, name)

    def create_migrated(self, scratch_dir: Path) -> Database:
        """A new database holding the migrated schema, cloned from the template.

        The first call migrates the template (``scratch_dir`` is its instance dir).
        """
        if self._template is None:
            template = self.create()
            try:
                migrate(template.url, scratch_dir)
            except BaseException:
                self.drop(template.name)
                raise
            self._template = template.name
        return self.create(template=self._template)

    def close(self) -> None:
        """Drop the migrated template, if one was built."""
        if self._template is not None:
            self.drop(self._template)
            self._template = None

    def drop(self, name: str) -> None:
        """Terminate whatever still talks to the database, then drop it."""
        with psycopg.connect(self._dsn, connect_timeout=5, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def exists(self, name: str) -> bool:
        with psycopg.connect(self._dsn, connect_timeout=5, autocommit=True) as conn:
            row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        return row is not None


def new_engine(url: str) -> sa.Engine:
    """An engine tuned like the app's (SQLite: WAL, BEGIN IMMEDIATE), as another process has."""
    engine = sa.create_engine(url, **engine_options(url))
    tune_engine(engine)
    return engine
