"""Kombu's Redis transport with one fix: a worker survives losing the broker mid-task.

The failure (kombu 5.7.0, reproduced with a real worker by
``tests/faults/test_broker_outage.py::test_losing_the_broker_with_one_task_running_keeps_the_worker``):
a worker holds one unacknowledged late-ack message, its channel is waiting in ``BRPOP`` for
the next one, and the broker goes away. Celery's consumer then

1. ``collect``s the connection: closing the channel first drains the pending ``BRPOP``,
   which raises a connection error before the channel is marked closed (the error is
   ignored), and then the transport is detached (``transport.client = None``);
2. ``close``s the connection: the channel, still open, drops its connection pool and
   restores the unacknowledged message, which needs a new pool, whose parameters are read
   from ``transport.client``: ``AttributeError: 'NoneType' object has no attribute
   'hostname'``. That is not a connection error, so the worker stops with status 1.

Here a detached transport answers with a Redis ``ConnectionError`` instead, which the
consumer ignores as it ignores any other error of a lost broker, and it reconnects. The
message it could not restore stays in the broker's unacked set (kombu restores it after
``visibility_timeout``), and its outbox delivery is published again once its lease ends,
as for any delivery a broker loses.
"""

from typing import Any

import kombu.transport
from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError

SCHEME = "redis"
SENTINEL_SCHEME = "sentinel"


class _SurvivesDetachedTransport(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> Any:
        if self.connection.client is None:
            raise RedisConnectionError("the broker connection was closed after it was lost")
        # kombu leaves it unannotated; untyped_calls_exclude does not reach a super() call
        return super()._connparams(asynchronous=asynchronous)  # type: ignore[no-untyped-call]


class Channel(_SurvivesDetachedTransport):
    pass


class SentinelChannel(_SurvivesDetachedTransport, kombu_redis.SentinelChannel):
    """The same fix for ``sentinel://`` URLs, whose channel is the Redis one's subclass."""


class Transport(kombu_redis.Transport):
    Channel = Channel


class SentinelTransport(kombu_redis.SentinelTransport):
    Channel = SentinelChannel


def install() -> None:
    """Make every ``redis://`` (``sentinel://``) connection this process opens from now on
    use ``Transport`` (``SentinelTransport``).

    Done through kombu's alias table rather than Celery's ``broker_transport``: a class
    there would print as the URL's scheme, in the worker's banner and in Flower, whose
    broker page picks its client by that scheme. ``rediss://`` keeps kombu's transport
    (the README documents ``redis://`` and ``amqp://``). Idempotent; kombu caches
    resolved aliases, so a resolution made before this call is dropped.
    """
    for scheme, transport in ((SCHEME, Transport), (SENTINEL_SCHEME, SentinelTransport)):
        kombu.transport.TRANSPORT_ALIASES[scheme] = (
            f"{transport.__module__}:{transport.__qualname__}"
        )
        kombu.transport._transport_cache.pop(scheme, None)
