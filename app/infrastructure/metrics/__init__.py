"""Prometheus metrics, correct under gunicorn's and Celery prefork's many processes.

prometheus-client's multiprocess mode: every process writes its samples to memory-mapped
files under ``PROMETHEUS_MULTIPROC_DIR`` and a scrape adds the files up. The library reads
that variable once, when it is first imported, so it must be in the environment of the
process tree before it starts (the Procfile and docker-compose.yml set it), and each
tree needs a directory of its own: the gunicorn master cleans it at start
(``app/api/gunicorn_hooks.py``), so does the Celery worker's main process
(``tasks/metrics.py``). Without the variable every process keeps its own samples, which
is right for one process (``flask run``) and wrong for more.

Two exporters, because web and worker run on different machines in a real deployment:
the web serves ``GET /metrics`` (its HTTP histograms and the outbox gauges, queried at
scrape time), and each worker's main process serves its pool's delivery metrics on
``WORKER_METRICS_LISTEN``. Prometheus scrapes both.
"""
