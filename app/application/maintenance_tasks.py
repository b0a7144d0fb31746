"""The maintenance tasks' wire names and their queue.

The worker defines the tasks (``tasks.registration``) and beat schedules them (the Celery
app's ``beat_schedule``) by these names: a task renamed on one side only would be sent
to no one.
"""

RELAY_QUEUE = "outbox"
"""Where the relay's sweep and the retention purge run, apart from the handlers' queues."""
RELAY_TASK = "outbox.relay"
RETENTION_TASK = "outbox.purge_done"
