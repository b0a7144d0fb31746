"""A worker consumer that no message can stop: what it cannot run is dead-lettered.

Celery's consumer handles a few kinds of bad message (unknown task, invalid task, body
that does not decode) and lets any other exception from building the request escape,
which ends the worker ("Unrecoverable error"); the message is restored to the queue and
kills every worker that takes it. A body that is not Celery's ``[args, kwargs, embed]``
(a string, a two-item list) does exactly that.

Ours records every message it cannot hand to a task in the dead-letter store, with its
raw body and the reason, then rejects it without requeue (RabbitMQ's dead-letter exchange
takes it; on Redis the store's record is what remains). Connection and channel errors
still propagate: those are the broker's, and Celery recovers from them by reconnecting.
"""

import logging
from collections.abc import Callable
from typing import Any

from celery.worker.consumer import Consumer

from app.application.errors import CorruptMessage
from app.container import container_of
from tasks.delayed_delivery import consumer_steps

log = logging.getLogger(__name__)

RAW_BODY_LIMIT = 2000
WORKFLOW_FIELDS = ("callbacks", "errbacks", "chain", "chord")


def body_problem(body: object) -> str | None:
    """Why a task message's decoded body is not one this worker runs, or None.

    Celery's protocol 2 body is ``[args, kwargs, embed]``; a body of another shape fails
    inside Celery (in the consumer, the pool or the pool's callback), where nothing can
    dead-letter it. Our producers send no callbacks, chains or chords, so a message that
    asks for them is not ours.
    """
    if not isinstance(body, list | tuple) or len(body) != 3:
        return f"the body must be [args, kwargs, embed], got {_shape(body)}"
    args, kwargs, embed = body
    if not isinstance(args, list | tuple):
        return f"args must be a list, got {_shape(args)}"
    if not isinstance(kwargs, dict):
        return f"kwargs must be an object, got {_shape(kwargs)}"
    if embed is None:
        return None
    if not isinstance(embed, dict):
        return f"embed must be an object, got {_shape(embed)}"
    asked = [name for name in WORKFLOW_FIELDS if embed.get(name)]
    if asked:
        return f"this worker runs no callbacks, chains or chords; the message asks for {asked}"
    return None


def _shape(value: object) -> str:
    if isinstance(value, list | tuple):
        return f"a list of {len(value)}"
    return type(value).__name__


class DeadLetteringConsumer(Consumer):
    class Blueprint(Consumer.Blueprint):
        default_steps = consumer_steps(Consumer.Blueprint.default_steps)

    def on_decode_error(self, message: Any, exc: Exception) -> None:
        self._dead_letter(
            message,
            f"cannot decode the message body ({message.content_type}, "
            f"{message.content_encoding}): {exc}",
        )

    def create_task_handler(self, *args: Any, **kwargs: Any) -> Callable[[Any], Any]:
        on_task_received = super().create_task_handler(*args, **kwargs)
        broker_errors = (*self.connection_errors, *self.channel_errors)

        def on_task_received_or_dead_letter(message: Any) -> Any:
            problem = self._task_body_problem(message)
            if problem is not None:
                self._dead_letter(message, f"the worker cannot run this message: {problem}")
                return None
            try:
                return on_task_received(message)
            except broker_errors:
                raise
            except Exception as exc:
                self._dead_letter(
                    message, f"the worker cannot run this message: {type(exc).__name__}: {exc}"
                )
                return None

        return on_task_received_or_dead_letter

    def _task_body_problem(self, message: Any) -> str | None:
        """Checked only for messages of a known task whose body decodes: Celery's own
        handling of the others (no task header, unknown task, undecodable body) already
        ends in the dead-letter store with a more telling reason."""
        headers = getattr(message, "headers", None)
        if not isinstance(headers, dict) or headers.get("task") not in self.strategies:
            return None
        try:
            body = message.decode()
        except Exception:
            return None
        return body_problem(body)

    def _dead_letter(self, message: Any, reason: str) -> None:
        from tasks.worker_app import build_worker

        flask_app, _celery = build_worker()
        headers = getattr(message, "headers", None)
        task_name = headers.get("task") if isinstance(headers, dict) else None
        try:
            with flask_app.app_context():
                container_of(flask_app).runner.dead_letter_unroutable(
                    CorruptMessage(reason),
                    task_name if isinstance(task_name, str) else None,
                    {"raw_body": repr(getattr(message, "body", message))[:RAW_BODY_LIMIT]},
                )
        except Exception:
            log.exception("could not record an unrunnable message as a dead letter: %s", reason)
        finally:
            if not getattr(message, "acknowledged", True):
                message.reject_log_error(log, self.connection_errors, requeue=False)
