"""``python -m bench.scale``: outboxflow's scale-out curve, worker processes by relays by broker.

For each broker, one namespace (a throwaway database, a Redis key prefix or RabbitMQ vhost),
one ``gunicorn 'app:create_app()' -w 2`` started as ``python -m bench`` starts it, and 32 users;
then, for each cell of the matrix (``bench.scale.cell``), a fresh worker
(``celery -A bench.probe_worker worker --pool prefork --concurrency W``) and R relays (the
Procfile's ``flask --app app outbox relay --follow``), measured in two windows:

* **latency**: commands offered in an open loop at a fixed rate; commit → handler start p50
  and p99 (``bench.start_delays``);
* **drain**: the relays paused (SIGSTOP), a backlog of create-order commands posted, the
  relays resumed (SIGCONT) at once: from that moment to the last delivery's end, deliveries/s,
  with what each delivery cost PostgreSQL (round trips, WAL, backend CPU) and the worker and
  relay processes.

Beat is not started: its relay sweep would publish the paused backlog.
"""
