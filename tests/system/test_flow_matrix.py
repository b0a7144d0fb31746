"""The whole flow on each of the suite's stacks (``STACK_COMBOS`` says which and why),
with a real worker and beat.

Ten users and fifty orders go in over HTTP; once the outbox drains, every delivery must
be done, the projections must equal what the test computes from what it sent, a rebuild
from the event store must give the same rows, every email must have been written, and
the loyalty reaction must carry the payment request's correlation and causation.
"""

from collections import Counter
from typing import Any

import pytest

from app.infrastructure.persistence.tables import order_summaries, outbox, user_profiles
from tests.support.db_state import stored_events, table_rows
from tests.support.fixtures import STACK_COMBOS, STACK_IDS, MakeStack
from tests.support.outbox import status_counts
from tests.support.stack import Stack
from tests.support.workload import Workload, assert_queries_match, drive

pytestmark = pytest.mark.system

EMAIL_SUBJECTS = {
    "welcome": "Welcome to outboxflow",
    "confirmation": " confirmed",
    "receipt": "Receipt for order ",
    "shipping": " shipped",
    "cancellation": " cancelled",
}


@pytest.mark.parametrize(("db", "broker"), STACK_COMBOS, ids=STACK_IDS)
def test_fifty_orders_end_exactly_as_sent(make_stack: MakeStack, db: str, broker: str) -> None:
    stack = make_stack(db, broker)
    stack.start_celery()
    workload = Workload.generate(users=10, orders=50)

    drive(stack.client, workload)
    stats = stack.wait_drained(timeout=120)

    assert stats["dead"] == 0, stats
    events = stored_events(stack.engine)
    assert_every_event_delivered_once_and_done(stack, events)
    assert_deterministic_events(workload, events)
    assert_queries_match(stack.client, workload)
    assert_rebuild_reproduces_live_projections(stack)
    assert_orders_equal_their_events(stack)
    assert_emails_sent(stack, workload)
    assert_loyalty_chains(workload, events)


def assert_every_event_delivered_once_and_done(stack: Stack, events: list[dict[str, Any]]) -> None:
    subscribed = stack.container.subscriptions  # no WEBHOOK_URLS: not forward_to_webhooks
    expected = Counter(
        (e["event_id"], handler) for e in events for handler in subscribed(e["event_type"])
    )
    deliveries = table_rows(stack.engine, outbox)
    assert Counter((d["event_id"], d["handler"]) for d in deliveries) == expected
    assert status_counts(stack.engine) == {"done": len(deliveries)}


def assert_deterministic_events(workload: Workload, events: list[dict[str, Any]]) -> None:
    counts = Counter(e["event_type"] for e in events)
    for event_type, expected in workload.expected_event_counts().items():
        assert counts[event_type] == expected, event_type


def assert_rebuild_reproduces_live_projections(stack: Stack) -> None:
    live = table_rows(stack.engine, order_summaries), table_rows(stack.engine, user_profiles)
    result = stack.cli("projections", "rebuild")
    assert result.exit_code == 0, result.output
    rebuilt = table_rows(stack.engine, order_summaries), table_rows(stack.engine, user_profiles)
    assert rebuilt == live


def assert_orders_equal_their_events(stack: Stack) -> None:
    result = stack.cli("aggregates", "verify")
    assert result.exit_code == 0, result.output
    assert ", mismatched 0" in result.output


def assert_emails_sent(stack: Stack, workload: Workload) -> None:
    emails = stack.emails()
    assert Counter(email_kind(str(m["Subject"])) for m in emails) == workload.expected_emails()
    keys = [m["X-Idempotency-Key"] for m in emails]
    assert len(set(keys)) == len(keys), "an email was sent twice"


def email_kind(subject: str) -> str:
    kinds = [kind for kind, marker in EMAIL_SUBJECTS.items() if marker in subject]
    return kinds[0] if len(kinds) == 1 else f"unexpected: {subject}"


def assert_loyalty_chains(workload: Workload, events: list[dict[str, Any]]) -> None:
    """Award: payment's correlation, PaymentProcessed as cause; revoke likewise for cancel."""
    by_order: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for event in events:
        key = event["payload"].get("order_id") or event["aggregate_id"]
        by_order.setdefault((key, event["event_type"]), []).append(event)

    for order in (o for o in workload.orders if o.pay):
        (payment,) = by_order[(order.order_id, "order.payment_processed")]
        assert payment["correlation_id"] == order.correlation_ids["pay"]
        assert payment["causation_id"] == order.correlation_ids["pay"]
        awards = by_order.get((order.order_id, "user.loyalty_points_awarded"), [])
        revokes = by_order.get((order.order_id, "user.loyalty_points_revoked"), [])
        if order.spends and order.points:
            (award,) = awards
            assert award["aggregate_id"] == workload.users[order.user].user_id
            assert award["payload"]["points"] == order.points
            assert award["correlation_id"] == order.correlation_ids["pay"]
            assert award["causation_id"] == payment["event_id"]
            assert not revokes
        else:
            assert len(awards) == len(revokes) <= 1, (awards, revokes)
        for revoke in revokes:
            (cancelled,) = by_order[(order.order_id, "order.cancelled")]
            assert revoke["correlation_id"] == order.correlation_ids["cancel"]
            assert revoke["causation_id"] == cancelled["event_id"]
