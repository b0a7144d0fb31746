"""``python -m bench``: outboxflow beside raw Celery, a naive dual write and a bare endpoint.

Everything runs in one go on one broker, one worker pool and one PostgreSQL, each phase in a
namespace of its own (a throwaway database, a Redis key prefix or RabbitMQ vhost, free ports).
The product is driven only through what a user has: its CLI, HTTP API, environment settings,
and the ``outbox`` and ``events`` tables.
"""
