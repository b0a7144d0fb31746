"""Outbox gauges computed at scrape time from cheap queries (one read transaction)."""

import logging
from collections.abc import Iterable, Iterator
from datetime import timedelta

import sqlalchemy as sa
from prometheus_client.core import GaugeMetricFamily, Metric

from app.infrastructure.persistence import relay_heartbeats
from app.infrastructure.persistence.backlog import handler_backlogs, live_dead_letters
from app.infrastructure.persistence.database import read_only

log = logging.getLogger(__name__)

BACKLOG = "outboxflow_outbox_backlog"
OLDEST_AGE = "outboxflow_outbox_oldest_age_seconds"
DEAD_LETTERS = "outboxflow_dead_letters"
RELAY_HEARTBEAT_AGE = "outboxflow_relay_heartbeat_age_seconds"
HOST_HEARTBEAT_AGE = "outboxflow_relay_host_heartbeat_age_seconds"
NAMES = (BACKLOG, OLDEST_AGE, DEAD_LETTERS, RELAY_HEARTBEAT_AGE, HOST_HEARTBEAT_AGE)
HOSTS_LISTED_FOR = timedelta(hours=1)
"""A host whose relay has not beaten for this long leaves the per-host gauge."""


class OutboxCollector:
    """Every registered handler appears with zeros, so a quiet handler's series never vanish.

    A database that does not answer leaves these series out of that scrape (and is
    logged) instead of failing the whole scrape.
    """

    def __init__(self, engine: sa.Engine, handlers: Iterable[str]) -> None:
        self._engine = read_only(engine)
        self._handlers = list(handlers)

    def collect(self) -> Iterator[Metric]:
        try:
            with self._engine.connect() as conn:
                backlogs = handler_backlogs(conn, self._handlers)
                dead = live_dead_letters(conn)
                relay_age = relay_heartbeats.age_seconds(conn)
                host_ages = relay_heartbeats.ages_by_host(conn, HOSTS_LISTED_FOR)
        except sa.exc.SQLAlchemyError:
            log.warning("metrics: could not read the outbox figures", exc_info=True)
            return
        backlog = GaugeMetricFamily(
            BACKLOG,
            "Deliveries still to run by handler and status (waiting and parked: held behind "
            "an earlier delivery of their ordered key, in flight or dead).",
            labels=["handler", "status"],
        )
        oldest = GaugeMetricFamily(
            OLDEST_AGE,
            "Age of the oldest unfinished delivery per handler (0 when none).",
            labels=["handler"],
        )
        for b in backlogs:
            for status, count in b.counts.items():
                backlog.add_metric([b.handler, status], count)
            oldest.add_metric([b.handler], b.oldest_age_seconds)
        dead_letters = GaugeMetricFamily(
            DEAD_LETTERS,
            "Dead letters neither re-driven nor skipped, per handler.",
            labels=["handler"],
        )
        for handler in sorted(set(self._handlers) | set(dead)):
            dead_letters.add_metric([handler], dead.get(handler, 0))
        per_host = GaugeMetricFamily(
            HOST_HEARTBEAT_AGE,
            "Seconds since each host's following relay last went round its loop (hosts silent "
            "for over an hour are left out).",
            labels=["host"],
        )
        for host, age in sorted(host_ages.items()):
            per_host.add_metric([host], age)
        yield from (backlog, oldest, dead_letters, per_host)
        if relay_age is not None:
            yield GaugeMetricFamily(
                RELAY_HEARTBEAT_AGE,
                "Seconds since a following relay last went round its loop (absent until one has).",
                value=relay_age,
            )
