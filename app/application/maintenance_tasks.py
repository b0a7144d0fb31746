"""The maintenance tasks' wire names, their queue, and the backfill task's time limits.

The worker defines the tasks (``tasks.registration``) and beat schedules them (the Celery
app's ``beat_schedule``) by these names: a task renamed on one side only would be sent
to no one.
"""

RELAY_QUEUE = "outbox"
"""Where the relay's sweep and the retention purge run, apart from the handlers' queues."""
RELAY_TASK = "outbox.relay"
RETENTION_TASK = "outbox.purge_done"
BACKFILL_TASK = "outbox.backfill"
"""A handler's recorded backfill (``messaging.backfills.Backfills``), on ``RELAY_QUEUE``:
every worker the Procfile and docker-compose start consumes it."""
BACKFILL_TIME_LIMIT = 1500
BACKFILL_SOFT_TIME_LIMIT = BACKFILL_TIME_LIMIT - 60
"""A backfill walks the whole store, so it has limits of its own, below what either broker
waits for an acknowledgement (tasks ack late): RabbitMQ's default ``consumer_timeout``
(1800 s) and the Redis visibility timeout (3600 s) the Celery app sets
(``RABBITMQ_CONSUMER_TIMEOUT``, ``REDIS_VISIBILITY_TIMEOUT`` in ``messaging.celery_app``;
a unit test keeps them in that order). A broker never hands a backfill still running to a
second worker. A run stopped at the soft limit is failed, saying so."""
