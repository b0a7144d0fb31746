"""DeliveryRunner on a real migrated SQLite database: retry, dead letter, or done.

The app is not eager: commands only write their deliveries (no relay runs here), and each
test drives ``runner.run`` itself, the way the ``handlers.<name>`` task adapter does.
Failures come from a scripted webhook sender wired into a runner built like the
container's, or from a real HTTP receiver on 127.0.0.1.
"""

import dataclasses
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
import sqlalchemy as sa
from flask import Flask

from app.application.deliveries import DeadLettered, DeliveryRunner, Done, RetryLater
from app.application.errors import PermanentFailure, StoreUnavailable, TransientFailure
from app.application.event_handlers.registry import HANDLERS
from app.application.failure_policy import AttemptsExhausted
from app.application.messages import EventMessage
from app.application.ports import ChatNotifier, EmailSender, WebhookSender
from app.container import Container, container_of
from app.domain.errors import InvalidCommand
from app.infrastructure.envelope import claimed_event_id, decode_stored
from app.infrastructure.persistence import retention
from app.infrastructure.persistence.event_store import envelope_from_row
from app.infrastructure.persistence.sql import as_utc
from app.infrastructure.persistence.tables import dead_letters, events, handler_receipts, outbox
from tests.support.brokers import queue_depths
from tests.support.http_receiver import answer_by_path, http_receiver
from tests.support.inprocess import app_factory

HANDLER = "forward_to_webhooks"
MAX_ATTEMPTS = 3
UNCALLED_RECEIVER = "http://127.0.0.1:9/never-called|secret"
"""Subscribes the webhook handler (it needs ``WEBHOOK_URLS``); the runners here post
through the senders each test hands them, never to this address."""
MakeRunnerApp = Callable[..., Flask]


class RecordingWebhooks:
    """A webhook sender that keeps the messages it was asked to post."""

    def __init__(self) -> None:
        self.messages: list[EventMessage] = []

    def post_event(self, message: EventMessage, *, idempotency_key: str) -> None:
        self.messages.append(message)


class RecordingEmail:
    """An email sender that keeps what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, *, to: str, subject: str, body: str, idempotency_key: str) -> None:
        self.sent.append((to, subject))


class ScriptedWebhooks:
    """A webhook sender that raises the queued failures in turn, then succeeds."""

    def __init__(self, *failures: BaseException) -> None:
        self.failures = list(failures)
        self.calls: list[str] = []

    def post_event(self, message: EventMessage, *, idempotency_key: str) -> None:
        self.calls.append(idempotency_key)
        if self.failures:
            raise self.failures.pop(0)


@pytest.fixture
def make_runner_app(tmp_path: Path) -> Iterator[MakeRunnerApp]:
    with app_factory(
        tmp_path,
        eager=False,
        OUTBOX_MAX_ATTEMPTS=str(MAX_ATTEMPTS),
        WEBHOOK_URLS=UNCALLED_RECEIVER,
    ) as make:
        yield make


@pytest.fixture
def app(make_runner_app: MakeRunnerApp) -> Flask:
    return make_runner_app()


def _container(app: Flask) -> Container:
    return container_of(app)


def _runner(
    app: Flask,
    webhooks: WebhookSender | None = None,
    *,
    email: EmailSender | None = None,
    chat: ChatNotifier | None = None,
) -> DeliveryRunner:
    """A runner wired exactly like the container's, except for the senders given."""
    c = _container(app)
    outbound = dataclasses.replace(
        c.outbound,
        webhooks=webhooks or c.outbound.webhooks,
        email=email or c.outbound.email,
        chat=chat or c.outbound.chat,
    )
    return DeliveryRunner(
        c.ledger, c.uow, outbound, c.runner.policy, claimed_event_id, decode_stored
    )


def _register(app: Flask, email: str = "ada@example.com") -> None:
    response = app.test_client().post("/api/users", json={"email": email, "name": "Ada"})
    assert response.status_code == 201, response.get_data(as_text=True)


def _delivery(app: Flask, handler: str = HANDLER) -> tuple[int, dict[str, Any]]:
    """The newest delivery of ``handler`` and its envelope as the relay publishes it."""
    with _container(app).engine.connect() as conn:
        row = conn.execute(
            sa.select(outbox.c.id, events)
            .join(events, events.c.event_id == outbox.c.event_id)
            .where(outbox.c.handler == handler)
            .order_by(outbox.c.id.desc())
        ).first()
    assert row is not None
    return int(row.id), envelope_from_row(row).to_dict()


def _row(app: Flask, delivery_id: int) -> dict[str, Any]:
    with _container(app).engine.connect() as conn:
        row = conn.execute(sa.select(outbox).where(outbox.c.id == delivery_id)).mappings().one()
    return dict(row)


def _dead_letters(app: Flask) -> list[dict[str, Any]]:
    with _container(app).engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(dead_letters)).mappings()]


def _dead_letter_queue_depth(app: Flask) -> int:
    return queue_depths(_container(app).celery, ["dead_letter"])["dead_letter"]


def test_a_command_only_writes_its_deliveries(app: Flask) -> None:
    """Nothing is published from the request: the rows wait, pending, for a relay.

    The queues are compared before and after: kombu's ``memory://`` broker is one per
    process, so an earlier test in this process may have left messages in them.
    """
    queues = {spec.queue for spec in HANDLERS}
    before = queue_depths(_container(app).celery, queues)
    _register(app)
    delivery_id, envelope = _delivery(app)
    row = _row(app, delivery_id)
    assert (row["status"], row["attempts"], row["dispatch_count"]) == ("pending", 0, 0)
    assert row["lease_until"] is None
    assert queue_depths(_container(app).celery, queues) == before
    assert envelope["event_type"] == "user.registered"


def test_success_marks_the_delivery_done_and_calls_out_once(app: Flask) -> None:
    _register(app)
    delivery_id, envelope = _delivery(app)
    webhooks = ScriptedWebhooks()
    outcome = _runner(app, webhooks).run(HANDLER, delivery_id, envelope)
    assert outcome == Done(applied=True)
    assert webhooks.calls == [f"{envelope['event_id']}:{HANDLER}"]
    row = _row(app, delivery_id)
    assert (row["status"], row["attempts"], row["last_error"]) == ("done", 1, None)


def test_a_transient_failure_retries_later_and_records_why(app: Flask) -> None:
    _register(app)
    delivery_id, envelope = _delivery(app)
    runner = _runner(app, ScriptedWebhooks(TransientFailure("receiver answered 503")))
    before = datetime.now(UTC)

    outcome = runner.run(HANDLER, delivery_id, envelope)

    assert isinstance(outcome, RetryLater)
    assert isinstance(outcome.error, TransientFailure)
    assert 0 <= outcome.countdown <= 2  # base 2, first attempt
    row = _row(app, delivery_id)
    assert row["status"] == "retry"
    assert row["attempts"] == 1
    assert row["last_error"] == "TransientFailure: receiver answered 503"
    # The relay must not send it again before the retry has had its chance to run.
    lease = as_utc(row["lease_until"])
    assert lease >= before + timedelta(seconds=outcome.countdown) + runner.policy.task_lease
    assert _dead_letters(app) == []


def test_backoff_grows_and_the_last_allowed_attempt_dead_letters(app: Flask) -> None:
    _register(app)
    delivery_id, envelope = _delivery(app)
    failures = [TransientFailure(f"receiver answered 503 (#{n})") for n in range(MAX_ATTEMPTS)]
    webhooks = ScriptedWebhooks(*failures)
    runner = _runner(app, webhooks)
    queued_before = _dead_letter_queue_depth(app)

    outcomes = [runner.run(HANDLER, delivery_id, envelope) for _ in range(MAX_ATTEMPTS)]

    retries, last = outcomes[:-1], outcomes[-1]
    assert all(isinstance(o, RetryLater) for o in retries)
    for n, retry in enumerate(retries, 1):
        assert 0 <= cast(RetryLater, retry).countdown <= 2**n  # base 2 doubling per attempt
    assert isinstance(last, DeadLettered)
    assert last.reason == f"TransientFailure: receiver answered 503 (#{MAX_ATTEMPTS - 1})"
    assert len(webhooks.calls) == MAX_ATTEMPTS

    [dead] = _dead_letters(app)
    assert dead["delivery_id"] == delivery_id
    assert dead["handler"] == HANDLER
    assert (dead["event_id"], dead["event_type"]) == (envelope["event_id"], "user.registered")
    assert dead["attempts"] == MAX_ATTEMPTS
    assert dead["exception_type"] == "app.application.errors.TransientFailure"
    assert dead["message"] == f"receiver answered 503 (#{MAX_ATTEMPTS - 1})"
    assert "Traceback (most recent call last)" in dead["traceback"]
    assert "post_event" in dead["traceback"] and "TransientFailure" in dead["traceback"]
    assert dead["body"] == {"delivery_id": delivery_id, "envelope": envelope}
    assert dead["status"] == "dead"

    row = _row(app, delivery_id)
    assert (row["status"], row["attempts"], row["lease_until"]) == ("dead", MAX_ATTEMPTS, None)
    # No DLX on this broker: the runner re-publishes a copy to the dead_letter queue.
    assert _dead_letter_queue_depth(app) == queued_before + 1


@pytest.mark.parametrize(
    "failure",
    [
        PermanentFailure("receiver answered 400"),
        InvalidCommand("amount must be positive", field="amount"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_a_permanent_failure_is_dead_at_the_first_attempt(app: Flask, failure: Exception) -> None:
    _register(app)
    delivery_id, envelope = _delivery(app)

    outcome = _runner(app, ScriptedWebhooks(failure)).run(HANDLER, delivery_id, envelope)

    assert isinstance(outcome, DeadLettered)
    [dead] = _dead_letters(app)
    assert (dead["attempts"], dead["message"]) == (1, str(failure))
    assert dead["exception_type"].endswith(type(failure).__qualname__)
    assert _row(app, delivery_id)["status"] == "dead"


def test_a_delivery_that_killed_its_workers_is_dead_lettered_without_running(
    app: Flask,
) -> None:
    """Every earlier attempt was counted, none finished: the next copy must not run it."""
    _register(app)
    delivery_id, envelope = _delivery(app)
    with _container(app).engine.begin() as conn:
        conn.execute(
            outbox.update().where(outbox.c.id == delivery_id).values(attempts=MAX_ATTEMPTS)
        )
    webhooks = ScriptedWebhooks()

    outcome = _runner(app, webhooks).run(HANDLER, delivery_id, envelope)

    assert isinstance(outcome, DeadLettered)
    assert outcome.reason.startswith("AttemptsExhausted: ")
    assert webhooks.calls == []
    [dead] = _dead_letters(app)
    assert dead["exception_type"] == f"{AttemptsExhausted.__module__}.AttemptsExhausted"
    assert dead["attempts"] == MAX_ATTEMPTS
    assert f"{MAX_ATTEMPTS} attempts started without finishing" in dead["message"]
    assert _row(app, delivery_id)["status"] == "dead"


@pytest.mark.parametrize("terminal", ["done", "dead"])
def test_a_copy_of_a_finished_delivery_is_ignored(app: Flask, terminal: str) -> None:
    _register(app)
    delivery_id, envelope = _delivery(app)
    failure = PermanentFailure("receiver answered 410")
    first = _runner(app, ScriptedWebhooks(*([failure] if terminal == "dead" else [])))
    first.run(HANDLER, delivery_id, envelope)
    assert _row(app, delivery_id)["status"] == terminal
    before = (_row(app, delivery_id), _dead_letters(app))
    webhooks = ScriptedWebhooks()

    outcome = _runner(app, webhooks).run(HANDLER, delivery_id, envelope)

    assert outcome == Done(applied=False)
    assert webhooks.calls == []
    assert (_row(app, delivery_id), _dead_letters(app)) == before


def test_a_transactional_handler_applied_by_another_copy_is_not_applied_again(
    app: Flask,
) -> None:
    _register(app)
    delivery_id, envelope = _delivery(app, "project_user_profile")
    runner = _container(app).runner
    assert runner.run("project_user_profile", delivery_id, envelope) == Done(applied=True)
    with _container(app).engine.begin() as conn:  # as if the broker redelivered a copy
        conn.execute(outbox.update().where(outbox.c.id == delivery_id).values(status="pending"))
    assert runner.run("project_user_profile", delivery_id, envelope) == Done(applied=False)
    with _container(app).engine.connect() as conn:
        receipts = conn.execute(sa.select(sa.func.count()).select_from(handler_receipts))
        assert receipts.scalar_one() == 1
    assert _row(app, delivery_id)["status"] == "done"


@pytest.mark.parametrize("handler", [HANDLER, "project_user_profile"])
def test_a_late_copy_after_retention_purged_the_delivery_is_ignored(
    app: Flask, handler: str
) -> None:
    """The outbox row is gone, but the receipt says the handler already ran."""
    _register(app)
    delivery_id, envelope = _delivery(app, handler)
    first = _runner(app, ScriptedWebhooks()).run(handler, delivery_id, envelope)
    assert first == Done(applied=True)
    assert retention.purge_done_deliveries(_container(app).engine, timedelta(0), 1000) >= 1
    with _container(app).engine.connect() as conn:
        assert conn.execute(sa.select(outbox).where(outbox.c.id == delivery_id)).first() is None
    webhooks = ScriptedWebhooks()

    outcome = _runner(app, webhooks).run(handler, delivery_id, envelope)

    assert outcome == Done(applied=False)
    assert webhooks.calls == []
    assert _dead_letters(app) == []


@pytest.mark.parametrize(
    ("delivery_id", "reason"),
    [
        ("abc", "delivery_id must be an integer, got 'abc'"),
        (None, "delivery_id must be an integer, got None"),
        (True, "delivery_id must be an integer, got True"),
        (3.0, "delivery_id must be an integer, got 3.0"),
        (0, "delivery_id must be between 1 and 9223372036854775807, got 0"),
        (2**70, f"delivery_id must be between 1 and 9223372036854775807, got {2**70}"),
        (987654, "delivery 987654 does not exist"),
    ],
)
def test_a_message_without_a_usable_delivery_id_is_dead_lettered(
    app: Flask, delivery_id: Any, reason: str
) -> None:
    _register(app)
    _, envelope = _delivery(app)
    webhooks = ScriptedWebhooks()

    outcome = _runner(app, webhooks).run(HANDLER, delivery_id, envelope)

    assert outcome == DeadLettered(f"CorruptMessage: {reason}")
    assert webhooks.calls == []
    [dead] = _dead_letters(app)
    assert (dead["delivery_id"], dead["handler"], dead["message"]) == (None, HANDLER, reason)
    assert dead["event_type"] == "user.registered"
    assert dead["exception_type"] == "app.application.errors.CorruptMessage"


def test_a_message_for_an_unknown_handler_is_dead_lettered(app: Flask) -> None:
    _register(app)
    delivery_id, envelope = _delivery(app)

    outcome = _container(app).runner.run("gone_handler", delivery_id, envelope)

    assert outcome == DeadLettered("CorruptMessage: no handler named 'gone_handler'")
    [dead] = _dead_letters(app)
    assert (dead["handler"], dead["event_id"]) == ("gone_handler", envelope["event_id"])
    # The delivery itself belongs to a real handler and is left for it.
    assert _row(app, delivery_id)["status"] == "pending"


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda e: "not an object", "envelope must be an object, got str"),
        (lambda e: {k: v for k, v in e.items() if k != "payload"}, "envelope is missing payload"),
        (lambda e: {**e, "schema_version": "2"}, "envelope field schema_version must be int"),
    ],
    ids=["not-a-dict", "missing-field", "wrong-type"],
)
def test_a_corrupt_envelope_is_dead_lettered_and_leaves_the_delivery_alone(
    app: Flask, mangle: Callable[[dict[str, Any]], Any], reason: str
) -> None:
    """A broken message cannot say which event it carries, so it cannot start the row;
    the relay publishes the delivery again after its lease, with the stored envelope."""
    _register(app)
    delivery_id, envelope = _delivery(app)
    webhooks = ScriptedWebhooks()

    outcome = _runner(app, webhooks).run(HANDLER, delivery_id, mangle(envelope))

    assert isinstance(outcome, DeadLettered)
    assert reason in outcome.reason
    assert webhooks.calls == []
    [dead] = _dead_letters(app)
    assert reason in dead["message"]
    assert (dead["delivery_id"], dead["attempts"]) == (None, 1)
    assert (_row(app, delivery_id)["status"], _row(app, delivery_id)["attempts"]) == (
        "pending",
        0,
    )


@pytest.mark.parametrize(
    "mangle",
    [
        lambda e: {**e, "event_type": "user.teleported"},
        lambda e: {**e, "schema_version": 99},
        lambda e: {**e, "payload": {"email": "mallory@example.com", "name": "Mallory"}},
        lambda e: {**e, "correlation_id": "forged"},
    ],
    ids=["event-type", "schema-version", "payload", "context"],
)
def test_the_handler_runs_the_stored_event_whatever_the_message_claims(
    app: Flask, mangle: Callable[[dict[str, Any]], Any]
) -> None:
    _register(app)
    delivery_id, envelope = _delivery(app)
    webhooks = RecordingWebhooks()

    outcome = _runner(app, webhooks).run(HANDLER, delivery_id, mangle(envelope))

    assert outcome == Done(applied=True)
    [message] = webhooks.messages
    assert message.event.event_id == envelope["event_id"]
    assert message.event.event_type == "user.registered"
    assert message.event.payload()["email"] == "ada@example.com"
    assert message.context.correlation_id == envelope["correlation_id"]


def test_a_message_naming_another_handler_s_delivery_runs_nothing(app: Flask) -> None:
    """The finding: a welcome-email task carrying the webhook's delivery_id and a made-up
    envelope sent the email to the made-up address and marked the webhook delivery done."""
    _register(app)
    webhook_delivery, envelope = _delivery(app, HANDLER)
    forged = {**envelope, "payload": {**envelope["payload"], "email": "mallory@example.com"}}
    email = RecordingEmail()
    runner = _runner(app, email=email)

    outcome = runner.run("send_welcome_email", webhook_delivery, forged)

    assert isinstance(outcome, DeadLettered)
    assert "is forward_to_webhooks's delivery of event" in outcome.reason
    assert "nothing was run" in outcome.reason
    assert email.sent == []
    row = _row(app, webhook_delivery)
    assert (row["status"], row["attempts"]) == ("pending", 0)
    [dead] = _dead_letters(app)
    assert (dead["delivery_id"], dead["handler"]) == (None, "send_welcome_email")
    # The genuine message still delivers the webhook.
    webhooks = ScriptedWebhooks()
    assert _runner(app, webhooks).run(HANDLER, webhook_delivery, envelope) == Done(applied=True)
    assert len(webhooks.calls) == 1


def test_a_message_naming_another_event_runs_nothing(app: Flask) -> None:
    _register(app, "ada@example.com")
    first_delivery, first_envelope = _delivery(app)
    _register(app, "bob@example.com")
    second_delivery, second_envelope = _delivery(app)
    webhooks = ScriptedWebhooks()

    outcome = _runner(app, webhooks).run(HANDLER, first_delivery, second_envelope)

    assert isinstance(outcome, DeadLettered)
    assert f"of event {first_envelope['event_id']}, not" in outcome.reason
    assert webhooks.calls == []
    assert _row(app, first_delivery)["status"] == "pending"
    assert _row(app, second_delivery)["status"] == "pending"


def test_a_database_error_when_counting_the_attempt_retries_later(app: Flask) -> None:
    _register(app)
    delivery_id, envelope = _delivery(app)
    engine = _container(app).engine
    webhooks = ScriptedWebhooks()

    def locked(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE OUTBOX"):
            raise sqlite3.OperationalError("database is locked")

    sa.event.listen(engine, "before_cursor_execute", locked)
    try:
        outcome = _runner(app, webhooks).run(HANDLER, delivery_id, envelope)
    finally:
        sa.event.remove(engine, "before_cursor_execute", locked)

    assert isinstance(outcome, RetryLater)
    assert isinstance(outcome.error, StoreUnavailable)
    assert isinstance(outcome.error.__cause__, sa.exc.OperationalError)
    assert 0 <= outcome.countdown <= 2
    assert webhooks.calls == []
    assert _row(app, delivery_id)["attempts"] == 0
    assert _dead_letters(app) == []
    # Once the database answers again the same message goes through.
    assert _runner(app, webhooks).run(HANDLER, delivery_id, envelope) == Done(applied=True)


def test_receiver_answers_are_classified_end_to_end(make_runner_app: MakeRunnerApp) -> None:
    """The container's own runner and webhook sender against a real HTTP receiver."""
    with http_receiver(answer_by_path) as receiver:
        flaky = make_runner_app(WEBHOOK_URLS=receiver.url("/status/503"), WEBHOOK_SECRET="s")
        refusing = make_runner_app(WEBHOOK_URLS=receiver.url("/status/422"), WEBHOOK_SECRET="s")
        throttled = make_runner_app(WEBHOOK_URLS=receiver.url("/status/429"), WEBHOOK_SECRET="s")
        outcomes = {}
        for name, app in (("503", flaky), ("422", refusing), ("429", throttled)):
            _register(app)
            delivery_id, envelope = _delivery(app)
            outcomes[name] = _container(app).runner.run(HANDLER, delivery_id, envelope)
        assert len(receiver.requests) == 3
    assert isinstance(outcomes["503"], RetryLater)
    assert isinstance(outcomes["429"], RetryLater)
    assert isinstance(outcomes["422"], DeadLettered)
    assert "answered 422" in outcomes["422"].reason
    [dead] = _dead_letters(refusing)
    assert dead["exception_type"] == "app.application.errors.PermanentFailure"


class FailingChat:
    def __init__(self) -> None:
        self.calls = 0

    def post(self, *, text: str, idempotency_key: str) -> None:
        self.calls += 1
        raise TransientFailure("slack answered 503")


def test_a_handler_s_own_attempt_limit_wins_over_the_default(
    make_runner_app: MakeRunnerApp,
) -> None:
    """notify_sales_channel gives up after its own 3 attempts although the ceiling is 6."""
    app = make_runner_app(OUTBOX_MAX_ATTEMPTS="6")
    client = app.test_client()
    user = client.post("/api/users", json={"email": "bo@example.com", "name": "Bo"}).get_json()
    created = client.post(
        "/api/orders",
        json={"user_id": user["user_id"], "items": [{"sku": "a", "quantity": 1, "unit_price": 1}]},
    )
    assert created.status_code == 201
    delivery_id, envelope = _delivery(app, "notify_sales_channel")
    chat = FailingChat()
    runner = _runner(app, chat=chat)
    assert runner.policy.max_attempts == 6

    outcomes = [runner.run("notify_sales_channel", delivery_id, envelope) for _ in range(3)]

    assert [type(o) for o in outcomes] == [RetryLater, RetryLater, DeadLettered]
    assert chat.calls == 3
    assert _row(app, delivery_id)["status"] == "dead"
