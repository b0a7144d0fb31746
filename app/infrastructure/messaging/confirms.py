"""RabbitMQ publisher confirms awaited once per batch instead of once per message.

With ``confirm_publish`` every publish waits for the broker's ack before the next one is
sent: one round trip per message. A batch instead goes out on a channel of its own in
confirm mode, without waiting, and the acks are collected once at the end. Because only
our batches publish on that channel, its delivery tags count from 1 and the batch is
confirmed exactly when the highest acked tag reaches the number of messages sent.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from amqp import spec
from amqp.exceptions import MessageNacked
from kombu.messaging import Producer

CONFIRM_TIMEOUT_SECONDS = 10.0
_CHANNEL_ATTRIBUTE = "_outboxflow_confirm_channel"


class _ConfirmChannel:
    """A confirm-mode channel whose publishes do not wait; it counts what it sent."""

    def __init__(self, connection: Any) -> None:
        self.channel = connection.channel()
        self.channel.confirm_select()
        self.channel._confirm_selected = True
        self.sent = 0
        self.acked = 0
        send = self.channel._basic_publish

        def publish_without_waiting(*args: Any, **kwargs: Any) -> Any:
            kwargs.pop("confirm_timeout", None)
            self.sent += 1
            return send(*args, **kwargs)

        self.channel.basic_publish = publish_without_waiting

    def wait_for_confirms(self) -> None:
        def on_confirm(method: Any, delivery_tag: int, multiple: bool = False) -> None:
            if method == spec.Basic.Nack:
                raise MessageNacked(f"the broker refused message {delivery_tag}")
            self.acked = max(self.acked, delivery_tag)

        while self.acked < self.sent:
            self.channel.wait(
                [spec.Basic.Ack, spec.Basic.Nack],
                callback=on_confirm,
                timeout=CONFIRM_TIMEOUT_SECONDS,
            )


def uses_confirms(producer: Any) -> bool:
    """Whether this producer's broker confirms publishes one by one (RabbitMQ, py-amqp)."""
    connection = producer.connection
    client = getattr(connection, "connection", None)
    return bool(getattr(client, "confirm_publish", False)) and hasattr(
        producer.channel, "basic_publish_confirm"
    )


@contextmanager
def confirmed_once(producer: Any) -> Iterator[Producer]:
    """A producer for one batch: publishes go out at once, confirms are awaited on exit.

    Leaving the block without an error means the broker has every message. On any
    error the channel is dropped (its count is no longer trustworthy) and nothing in the
    batch may be taken as published.
    """
    connection = producer.connection
    confirm = getattr(connection, _CHANNEL_ATTRIBUTE, None)
    if confirm is None or not confirm.channel.is_open:
        confirm = _ConfirmChannel(connection)
        setattr(connection, _CHANNEL_ATTRIBUTE, confirm)
    try:
        yield Producer(confirm.channel, exchange=producer.exchange, auto_declare=False)
        confirm.wait_for_confirms()
    except BaseException:
        setattr(connection, _CHANNEL_ATTRIBUTE, None)
        raise
