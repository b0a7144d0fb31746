"""Rebuild throughput and reader wait on PostgreSQL (or SQLite), on a synthetic event store.

    .venv/bin/python -m bench.rebuild --orders 20000 [--database-url URL] [--batch-size 1000]

(as a module: run as a file, bench/numbers.py would shadow the standard library's).

Without --database-url a throwaway PostgreSQL database is created on 127.0.0.1:5432 and
dropped afterwards. The store gets one user per 10 orders and, per order, created + paid
(+ shipped for every other one): about 2.6 events per order. While each projection is
rebuilt, a reader thread keeps selecting known rows; the slowest read is reported.
"""

import argparse
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import psycopg
import sqlalchemy as sa

from app.application.event_handlers.projections import PROJECTIONS
from app.infrastructure.persistence.database import engine_options, tune_engine
from app.infrastructure.persistence.rebuild import ProjectionRebuild
from app.infrastructure.persistence.tables import events, order_summaries

ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
FLASK = str(Path(sys.executable).with_name("flask"))


def event(aggregate_type: str, aggregate_id: str, version: int, kind: str, payload: dict) -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": kind,
        "schema_version": 2 if kind in ("order.created", "user.registered") else 1,
        "aggregate_type": aggregate_type,
        "aggregate_id": aggregate_id,
        "aggregate_version": version,
        "payload": payload,
        "correlation_id": "bench",
        "causation_id": "bench",
        "occurred_at": datetime.now(UTC),
    }


def seed(engine: sa.Engine, orders: int) -> list[str]:
    users = [str(uuid.uuid4()) for _ in range(max(1, orders // 10))]
    rows = [
        event("user", u, 1, "user.registered", {"email": f"{u}@x.org", "name": "B"}) for u in users
    ]
    order_ids = []
    for n in range(orders):
        order_id, user = str(uuid.uuid4()), users[n % len(users)]
        order_ids.append(order_id)
        item = {"sku": "bench", "quantity": 2, "unit_price": "5.00"}
        rows.append(
            event(
                "order",
                order_id,
                1,
                "order.created",
                {"user_id": user, "items": [item], "total": "10.00", "currency": "EUR"},
            )
        )
        rows.append(
            event(
                "order",
                order_id,
                2,
                "order.payment_processed",
                {"user_id": user, "amount": "10.00"},
            )
        )
        if n % 2:
            rows.append(event("order", order_id, 3, "order.shipped", {"user_id": user}))
    with engine.begin() as conn:
        for start in range(0, len(rows), 5000):
            conn.execute(events.insert(), rows[start : start + 5000])
    return order_ids


def read_until_stopped(
    engine: sa.Engine, order_ids: list[str], slowest: list[float], stop: threading.Event
) -> None:
    n = 0
    while not stop.is_set():
        began = time.perf_counter()
        with engine.connect() as conn:
            conn.execute(
                sa.select(order_summaries).where(
                    order_summaries.c.order_id == order_ids[n % len(order_ids)]
                )
            ).all()
        slowest[0] = max(slowest[0], time.perf_counter() - began)
        n += 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=20000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--database-url")
    parser.add_argument("--no-reader", action="store_true", help="Measure throughput alone.")
    args = parser.parse_args()
    name = None
    url = args.database_url
    if url is None:
        name = f"of_bench_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    try:
        env = {"DATABASE_URL": url, "PATH": str(Path(sys.executable).parent)}
        subprocess.run(
            [FLASK, "--app", "app", "db", "upgrade"], env=env, check=True, capture_output=True
        )
        engine = sa.create_engine(url, **engine_options(url))
        tune_engine(engine)
        order_ids = seed(engine, args.orders)
        for projection in PROJECTIONS.values():
            slowest, stop = [0.0], threading.Event()
            read = partial(read_until_stopped, engine, order_ids, slowest, stop)
            reader = threading.Thread(target=read)
            if not args.no_reader:
                reader.start()
            cpu = time.process_time()
            report = ProjectionRebuild(engine, projection, args.batch_size).run()
            cpu = time.process_time() - cpu
            stop.set()
            if not args.no_reader:
                reader.join()
            print(
                f"{projection.name}: {report.rows} rows from {report.events} events in "
                f"{report.seconds:.2f} s = {report.events_per_second:,.0f} events/s "
                f"({report.events / cpu:,.0f} per CPU-second of this process); "
                f"swap {report.swap_seconds * 1000:.1f} ms; slowest concurrent read "
                f"{slowest[0] * 1000:.1f} ms"
            )
        engine.dispose()
    finally:
        if name is not None:
            with psycopg.connect(ADMIN, autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":
    main()
