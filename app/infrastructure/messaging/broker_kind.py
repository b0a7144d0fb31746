"""Which kind of broker a URL names; the one place that reads a broker URL's scheme.

A URL may list several brokers separated by ``;`` (kombu tries them in turn): they are
all of one kind, so the first one's scheme decides.
"""

AMQP_SCHEMES = ("amqp", "pyamqp")
REDIS_SCHEMES = ("redis", "rediss", "valkey", "sentinel")
SENTINEL_SCHEME = "sentinel"


def is_amqp(url: str) -> bool:
    """RabbitMQ: publisher confirms, dead-letter exchanges, queue types."""
    return url.startswith(AMQP_SCHEMES)


def is_redis(url: str) -> bool:
    """Redis or Valkey, directly or through Sentinel: visibility timeouts, key prefixes."""
    return url.startswith(REDIS_SCHEMES)


def is_sentinel(url: str) -> bool:
    """Redis found through Sentinels, which need the master's name to ask for."""
    return url.startswith(SENTINEL_SCHEME)
