"""Log lines as JSON (``LOG_FORMAT=json``), carrying the ids of what is being handled.

The ids live in a context variable: the request middleware binds the request's
``MessageContext``, the Celery task signals the one its envelope names, with the task's
``event_id``, ``handler`` and ``delivery_id``. Records carry the context as
``correlation_id`` and ``causation_id``. ``ContextFilter`` copies whatever is bound onto
each record, and the JSON formatter writes every record as one object on one line.
"""

import logging
import sys
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import asdict
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from app.application.messages import MessageContext
from app.config import Settings

TASK_FIELDS = ("event_id", "handler", "delivery_id")
_context: ContextVar[dict[str, Any] | None] = ContextVar("outboxflow_log_context", default=None)


def bind(context: MessageContext | None, **ids: object) -> None:
    """Attach ``context`` and the ``TASK_FIELDS`` among ``ids`` (None values are left out)
    to every record logged from here on."""
    bound = {} if context is None else asdict(context)
    bound.update((k, v) for k, v in ids.items() if k in TASK_FIELDS and v is not None)
    _context.set(bound)


def clear() -> None:
    _context.set(None)


def bound() -> dict[str, Any]:
    return dict(_context.get() or {})


class ContextFilter(logging.Filter):
    """Adds the bound ids to a record (never overwriting what the call passed in ``extra``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in (_context.get() or {}).items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


def json_formatter() -> logging.Formatter:
    return JsonFormatter(
        "{asctime}{levelname}{name}{processName}{message}",
        style="{",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        json_ensure_ascii=False,
    )


def use_json(handlers: Iterable[logging.Handler]) -> None:
    """Make ``handlers`` write JSON lines with the bound ids (idempotent).

    Python warnings go through logging too, or they would print plain text to stderr.
    """
    logging.captureWarnings(True)
    for handler in handlers:
        handler.setFormatter(json_formatter())
        if not any(isinstance(f, ContextFilter) for f in handler.filters):
            handler.addFilter(ContextFilter())


def configure(settings: Settings) -> None:
    """Set up logging for a web process. Text (the default in development) is left to
    Flask and the server; JSON replaces the root handler and reformats gunicorn's."""
    if not settings.json_logs:
        return
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    root.handlers = [handler]
    root.setLevel(logging.INFO)
    use_json(root.handlers)
    for name in ("gunicorn.error", "gunicorn.access"):
        use_json(logging.getLogger(name).handlers)
