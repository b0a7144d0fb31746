"""A batch is published in one broker round trip where the broker allows it.

On RabbitMQ the batch goes out on a confirm-mode channel of its own and its confirms are
awaited once: every message is then in its queue, and the channel's count of sent and
acked messages agree. On Redis the batch is one pipeline (kombu's ``Producer.batch``).
"""

from datetime import timedelta
from typing import Any

import pytest
import redis

from app.infrastructure.messaging import confirms
from app.infrastructure.persistence import outbox
from app.infrastructure.persistence.outbox import ClaimedDelivery
from tests.support.relays import seed_pending_deliveries
from tests.support.stack import Stack

pytestmark = pytest.mark.system

BATCH = 120


def _claim_all(stack: Stack) -> list[ClaimedDelivery]:
    seed_pending_deliveries(stack.engine, BATCH // 3)
    with stack.engine.begin() as conn:
        return outbox.claim(conn, token="batch", lease=timedelta(minutes=5), limit=10_000)


@pytest.mark.parametrize("stack", [("sqlite", "rabbitmq")], indirect=True)
def test_rabbitmq_confirms_are_awaited_once_per_batch(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    claimed = _claim_all(stack)
    waits: list[int] = []
    original = confirms._ConfirmChannel.wait_for_confirms

    def counting(self: confirms._ConfirmChannel) -> None:
        waits.append(self.sent)
        original(self)

    monkeypatch.setattr(confirms._ConfirmChannel, "wait_for_confirms", counting)
    published = stack.container.relay._publisher.publish(claimed, fail_fast=False)

    assert sorted(published) == sorted(d.delivery_id for d in claimed)
    assert len(waits) == 1, "one confirm wait for the whole batch"
    assert waits[0] >= len(claimed)
    assert sum(stack.queue_depths().values()) == len(claimed)


@pytest.mark.parametrize("stack", [("sqlite", "redis")], indirect=True)
def test_redis_publishes_a_batch_as_one_pipeline(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    claimed = _claim_all(stack)
    executed: list[int] = []
    original: Any = redis.client.Pipeline.execute

    def counting(self: redis.client.Pipeline, *args: Any, **kwargs: Any) -> Any:
        executed.append(len(self.command_stack))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(redis.client.Pipeline, "execute", counting)
    published = stack.container.relay._publisher.publish(claimed, fail_fast=False)

    assert sorted(published) == sorted(d.delivery_id for d in claimed)
    assert max(executed) >= len(claimed), executed
    assert sum(stack.queue_depths().values()) == len(claimed)
