"""The static Celery delivery baseline shared by every process (web, worker, beat, Flower).

Only what never differs per deployment lives here (see README "Failure handling").
Everything a deployment sets (broker URLs, time limits, the beat schedule) comes from
``Settings`` and is applied over this baseline by ``build_celery``.
"""

# Delivery guarantees: ack only after the handler ran; a lost worker puts the message back.
task_acks_late = True
task_reject_on_worker_lost = True
task_acks_on_failure = False
task_acks_on_timeout = True
worker_prefetch_multiplier = 1

# Connections: survive a broker that starts late or restarts; never lose a publish silently.
broker_connection_retry_on_startup = True
broker_connection_max_retries = None
task_publish_retry = True
task_publish_retry_policy = {"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5}

# JSON only: the wire format is part of the contract.
task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]
task_ignore_result = True

# Flower sees every task a worker receives, starts and ends. Its "sent" state (a second
# message per task) is off unless TASK_SENT_EVENTS is set: the outbox's dispatched status
# says the same.
worker_send_task_events = True

task_default_queue = "default"
timezone = "UTC"
enable_utc = True
