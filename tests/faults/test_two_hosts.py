"""Two hosts of one deployment, sharing only PostgreSQL and the broker.

Each host is a network namespace with its own hostname, address, instance directory and
metrics directories, running gunicorn, a following relay and a worker; it reaches the shared
servers over its own link. Both hosts get the same SECRET_KEY and ADMIN_TOKEN, as an operator
would deploy them. Commands go to both webs in turn, each with an Idempotency-Key; a command
whose web is down is retried on the other with the same key.

* Losing a host: host A (the one running beat) is SIGKILLed whole under load; host B alone
  delivers everything, each effect once, and stays ready. An ops-page sign-in made on A works
  on B, and an idempotent command sent to A and repeated on B is replayed, not run twice.
* Two beats: a second beat on host B doubles the relay sweeps and retention runs; nothing
  is lost or applied twice.
"""

import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from app.infrastructure.persistence.tables import events, outbox
from tests.faults.across_hosts import (
    assert_idempotent_retry_crosses_hosts,
    assert_ops_session_crosses_hosts,
    heartbeat_ages,
)
from tests.faults.conftest import FAST_FAILURE, FIGURES_SECTION
from tests.faults.invariants import EMAIL_HANDLERS, Figures, check_invariants
from tests.faults.several_hosts import Commands, Orders, ReadinessWatch, maildir_keys
from tests.support.fixtures import (
    STARTED_PROCESSES,
    MakeBroker,
    MakeDatabase,
    add_summary_line,
    run_all,
)
from tests.support.hosts import HostStack
from tests.support.netns import NetworkHost, network_hosts_unavailable
from tests.support.services import service_unavailable
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]

SECRET_KEY = "two-hosts-shared-secret-key-0123456789"
ADMIN_TOKEN = "two-hosts-admin-token-0123456789abcdef"
HOSTNAMES = ("host-a", "host-b")
FRESH = 3.0
"""Seconds: a relay beats every second, so a live one's heartbeat is always younger."""
PURGED = re.compile(r"retention: deleted (\d+) done deliveries")
EXPIRED = re.compile(r"Discarding revoked task: (outbox\.\w+)")

MakeHosts = Callable[..., tuple[HostStack, HostStack]]


@pytest.fixture
def make_two_hosts(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    make_database: MakeDatabase,
    make_broker: MakeBroker,
) -> Iterator[MakeHosts]:
    """``make_two_hosts(broker_kind, **settings)``: hosts A and B on one PostgreSQL database
    and one broker."""
    reason = network_hosts_unavailable()
    if reason:
        service_unavailable(reason)
    started = request.node.stash.setdefault(STARTED_PROCESSES, [])
    networks: list[NetworkHost] = []
    hosts: list[HostStack] = []

    def make(broker_kind: str, **settings: object) -> tuple[HostStack, HostStack]:
        database, broker = make_database("postgresql"), make_broker(broker_kind)
        shared = {**FAST_FAILURE, "secret_key": SECRET_KEY, "admin_token": ADMIN_TOKEN}
        subnet = random.randrange(0, 254)
        for offset, name in enumerate(HOSTNAMES):
            directory = tmp_path / name
            directory.mkdir()
            networks.append(NetworkHost(name, directory, subnet + offset))
            networks[-1].create()
            for url in (database.url, broker.url):
                networks[-1].forward(_port(url))
            hosts.append(
                HostStack(
                    networks[-1],
                    database,
                    broker,
                    on_process_started=started.append,
                    **{**shared, **settings},
                )
            )
        return hosts[0], hosts[1]

    yield make
    run_all([*(h.close for h in reversed(hosts)), *(n.close for n in reversed(networks))])


def _port(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None, url
    return port


def start(host: HostStack, *, beat: bool) -> str:
    """Web (gunicorn, 2 workers), worker (prefork, 2) with the following relay, and beat if
    asked; returns the web's base URL."""
    _web, url = host.start_web(workers=2)
    host.start_worker()
    if beat:
        host.start_beat()
    return url


def start_both(a: HostStack, b: HostStack, *, beat_on_b: bool) -> tuple[str, str]:
    """Both hosts' processes, beat on A and on B too if asked; the two webs' base URLs.

    One host after the other, from this thread: a process started from a helper thread
    would be killed when that thread ends (its parent-death signal follows the thread)."""
    return start(a, beat=True), start(b, beat=beat_on_b)


def both_relays_beating(web: str) -> dict[str, float] | None:
    ages = heartbeat_ages(web, ADMIN_TOKEN)
    fresh = all(ages.get(name, FRESH) < FRESH for name in HOSTNAMES)
    return ages if fresh else None


def event_counts(engine: sa.Engine) -> Counter[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(events.c.event_type, sa.func.count()).group_by(events.c.event_type)
        ).all()
    return Counter({event_type: count for event_type, count in rows})


def unfinished(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count())
                .select_from(outbox)
                .where(outbox.c.status.not_in(["done", "dead"]))
            ).scalar_one()
        )


def missing_emails(engine: sa.Engine, hosts: tuple[HostStack, HostStack]) -> list[str]:
    """Done email deliveries whose message is in neither host's maildir."""
    with engine.connect() as conn:
        done = conn.execute(
            sa.select(outbox.c.event_id, outbox.c.handler).where(
                outbox.c.status == "done", outbox.c.handler.in_(EMAIL_HANDLERS)
            )
        ).all()
    received = maildir_keys(host.maildir for host in hosts)
    return [f"{e}:{h}" for e, h in done if received[f"{e}:{h}"] == 0]


def assert_exactly_once(figures: Figures) -> None:
    assert figures.lost == 0, figures.line()
    assert figures.dead == 0, figures.line()
    assert not figures.projection_mismatches, figures.projection_mismatches[:10]
    assert figures.duplicate_effects == 0, figures.line()


@pytest.mark.parametrize("broker_kind", ["redis", "rabbitmq"])
def test_losing_a_host_under_load_loses_nothing_and_applies_nothing_twice(
    request: pytest.FixtureRequest, make_two_hosts: MakeHosts, broker_kind: str
) -> None:
    a, b = hosts = make_two_hosts(broker_kind)
    began = time.monotonic()
    web_a, web_b = start_both(a, b, beat_on_b=False)
    started_in = time.monotonic() - began
    ages = wait_until(
        lambda: both_relays_beating(web_b), timeout=15, what="both hosts' relay heartbeats"
    )

    assert_ops_session_crosses_hosts(web_a, web_b, ADMIN_TOKEN)
    assert_idempotent_retry_crosses_hosts(web_a, web_b)

    commands = Commands([web_a, web_b])
    orders = Orders()
    orders.register(commands, 6, "two-hosts")
    orders.place(commands, 30)
    with ReadinessWatch(web_b) as readiness:
        in_flight_at_kill = unfinished(b.engine)
        killed_at = time.monotonic()
        a.kill_all()
        orders.place(commands, 30)
        b.wait_drained(timeout=120)
        drained_in = time.monotonic() - killed_at

    # A dead host's heartbeat goes stale FRESH seconds after its last beat; a fast drain can
    # end sooner than that, so wait for it rather than read it once.
    def stale_a() -> dict[str, float] | None:
        seen = heartbeat_ages(web_b, ADMIN_TOKEN)
        return seen if seen.get("host-a", 0.0) >= FRESH else None

    ages_after = wait_until(stale_a, timeout=FRESH + 30, what="host A's heartbeat to go stale")

    figures = check_invariants(b.engine)
    counts = event_counts(b.engine)
    line = figures.line(
        scenario=f"two hosts, A killed [{b.broker.kind}]",
        started_s=round(started_in, 1),
        heartbeat_ages={host: round(age, 2) for host, age in ages.items()},
        heartbeat_ages_after={host: round(age, 1) for host, age in ages_after.items()},
        commands=commands.sent,
        retried_on_b=commands.retried_elsewhere,
        unfinished_at_kill=in_flight_at_kill,
        drained_after_kill_s=round(drained_in, 1),
        readyz_b=dict(readiness.statuses),
    )
    add_summary_line(request.node, FIGURES_SECTION, line)
    assert_exactly_once(figures)
    assert counts["user.registered"] == len(orders.users) + 1
    assert counts["order.created"] == len(orders.orders) == 60
    assert counts["order.payment_processed"] == orders.paid
    assert commands.retried_elsewhere > 0, "no command was sent to host A after its death"
    assert not missing_emails(b.engine, hosts)
    assert set(readiness.statuses) == {200}, readiness.failures[:5]
    assert ages_after["host-b"] < FRESH <= ages_after["host-a"], ages_after


def test_a_second_beat_doubles_the_schedule_and_changes_no_outcome(
    request: pytest.FixtureRequest, make_two_hosts: MakeHosts
) -> None:
    schedule = {
        "outbox_relay_interval": 1.0,
        "outbox_retention_interval": 2.0,
        "outbox_retention_hours": 0.0005,
    }
    a, b = hosts = make_two_hosts("redis", **schedule)
    web_a, web_b = start_both(a, b, beat_on_b=True)

    commands = Commands([web_a, web_b])
    orders = Orders()
    orders.register(commands, 6, "two-beats")
    orders.place(commands, 40)
    b.wait_drained(timeout=120)
    purged = _purged(hosts)
    wait_until(
        lambda: _purged(hosts) > purged or None,
        timeout=30,
        what="a retention run after the drain that purges what the drain finished",
    )

    beats = [host.processes[-1] for host in hosts]
    assert all(process.name == "beat" for process in beats)
    sweeps = [p.log_text().count("Sending due task outbox-relay") for p in beats]
    retention_runs = [p.log_text().count("Sending due task outbox-retention") for p in beats]
    figures = check_invariants(b.engine)
    counts = event_counts(b.engine)
    line = figures.line(
        scenario=f"two beats [{b.broker.kind}]",
        relay_sweeps_sent=sweeps,
        retention_runs_sent=retention_runs,
        purged=_purged(hosts),
        expired=dict(_expired(hosts)),
    )
    add_summary_line(request.node, FIGURES_SECTION, line)
    assert min(sweeps) > 0 and min(retention_runs) > 0, (sweeps, retention_runs)
    assert_exactly_once(figures)
    assert counts["order.created"] == len(orders.orders) == 40
    assert counts["order.payment_processed"] == orders.paid
    assert not missing_emails(b.engine, hosts)


def _worker_logs(hosts: tuple[HostStack, HostStack]) -> list[str]:
    return [
        process.log_text()
        for host in hosts
        for process in host.processes
        if process.name.startswith("of-worker-")
    ]


def _purged(hosts: tuple[HostStack, HostStack]) -> int:
    """Done deliveries the retention runs of both hosts' workers deleted so far."""
    return sum(int(n) for text in _worker_logs(hosts) for n in PURGED.findall(text))


def _expired(hosts: tuple[HostStack, HostStack]) -> Counter[str]:
    """Maintenance tasks the workers discarded because they waited past their expiry."""
    return Counter(name for text in _worker_logs(hosts) for name in EXPIRED.findall(text))
