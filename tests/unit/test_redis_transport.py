"""``redis://`` connections get our transport and still read ``redis://`` (no server needed)."""

from kombu.connection import Connection

from app.infrastructure.messaging import redis_transport


def test_redis_urls_use_the_fixed_transport_and_keep_their_scheme() -> None:
    redis_transport.install()
    redis_transport.install()

    with Connection("redis://127.0.0.1:6399/2") as redis_conn:
        assert isinstance(redis_conn.transport, redis_transport.Transport)
        assert redis_conn.transport.Channel is redis_transport.Channel
        assert redis_conn.as_uri().startswith("redis://")
    with Connection("amqp://guest:guest@127.0.0.1:5672//") as amqp_conn:
        assert not isinstance(amqp_conn.transport, redis_transport.Transport)
        assert amqp_conn.as_uri().startswith("amqp://")


def test_sentinel_urls_get_the_same_fix() -> None:
    redis_transport.install()

    with Connection(
        "sentinel://127.0.0.1:26379;sentinel://127.0.0.1:26380",
        transport_options={"master_name": "outboxflow"},
    ) as conn:
        assert isinstance(conn.transport, redis_transport.SentinelTransport)
        assert issubclass(conn.transport.Channel, redis_transport.SentinelChannel)
