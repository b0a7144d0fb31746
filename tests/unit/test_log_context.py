"""The ids a task's log records carry come from its message, and garbage is left out."""

import json
import logging
from types import SimpleNamespace
from typing import Any

import pytest

from app import logs
from app.application.messages import MessageContext
from tasks.log_context import bind_task_ids

ENVELOPE = {
    "event_id": "9877f3f2-fdc1-4d0b-8819-3c019cd748af",
    "correlation_id": "req-1",
    "causation_id": "req-1",
    "payload": {},
}


def _task(name: str) -> Any:
    return SimpleNamespace(name=name)


def task_ids(task: Any, kwargs: Any) -> dict[str, Any]:
    """What the task signal binds for a task's log records."""
    bind_task_ids(task, kwargs)
    try:
        return logs.bound()
    finally:
        logs.clear()


def test_a_handler_task_names_every_id() -> None:
    ids = task_ids(_task("handlers.send_welcome_email"), {"delivery_id": 7, "envelope": ENVELOPE})
    assert ids == {
        "correlation_id": "req-1",
        "causation_id": "req-1",
        "event_id": ENVELOPE["event_id"],
        "delivery_id": 7,
        "handler": "send_welcome_email",
    }


@pytest.mark.parametrize(
    "kwargs",
    [None, [], {"envelope": "x", "delivery_id": "7"}, {"envelope": {"event_id": 5}}],
)
def test_malformed_messages_give_no_ids(kwargs: Any) -> None:
    assert task_ids(_task("handlers.nope"), kwargs) == {}


def test_the_relay_has_no_handler() -> None:
    assert task_ids(_task("outbox.relay"), {}) == {}


def test_json_lines_carry_the_bound_ids() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("there",), None)
    logs.bind(MessageContext.root("req-2"), handler="h", delivery_id=3, unknown="dropped")
    try:
        assert logs.ContextFilter().filter(record)
    finally:
        logs.clear()
    line = logs.json_formatter().format(record)
    parsed = json.loads(line)
    assert "\n" not in line
    assert parsed["message"] == "hello there" and parsed["level"] == "INFO"
    assert (parsed["correlation_id"], parsed["handler"], parsed["delivery_id"]) == ("req-2", "h", 3)
    assert "unknown" not in parsed and "event_id" not in parsed
