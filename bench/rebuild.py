"""Rebuild throughput and reader wait on PostgreSQL (or SQLite), on a synthetic event store.

    .venv/bin/python -m bench.rebuild --orders 20000 [--database-url URL] [--batch-size 1000]

(as a module: run as a file, bench/numbers.py would shadow the standard library's).

Without --database-url a throwaway PostgreSQL database is created on 127.0.0.1:5432 and
dropped afterwards. The store gets one user per 10 orders and, per order, created + paid
(+ shipped for every other one): about 2.6 events per order. While each projection is
rebuilt (after a first rebuild has filled them), a reader in another process keeps selecting
known rows of it; the slowest read is reported.
"""

import argparse
import multiprocessing
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa

from app.application.event_handlers.projections import PROJECTIONS
from app.infrastructure.persistence.database import engine_options, tune_engine
from app.infrastructure.persistence.rebuild import ProjectionRebuild
from app.infrastructure.persistence.tables import events, order_summaries, user_profiles

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


def read_until_stopped(url: str, table_name: str, keys: list[str], slowest: Any, stop: Any) -> None:
    """A reader in a process of its own (as the web's are): select known rows by key until
    told to stop, keeping the slowest answer in ``slowest`` (seconds)."""
    engine = sa.create_engine(url, **engine_options(url))
    table = {t.name: t for t in (order_summaries, user_profiles)}[table_name]
    key = table.primary_key.columns.values()[0]
    n = 0
    while not stop.is_set():
        began = time.perf_counter()
        with engine.connect() as conn:
            conn.execute(sa.select(table).where(key == keys[n % len(keys)])).all()
        slowest.value = max(slowest.value, time.perf_counter() - began)
        n += 1
    engine.dispose()


def user_ids(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(user_profiles.c.user_id)).scalars())


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
        # Fill the live projections first, so readers ask for rows that exist.
        for projection in PROJECTIONS.values():
            ProjectionRebuild(engine, projection, args.batch_size).run()
        keys = {"order_summaries": order_ids, "user_profiles": user_ids(engine)}
        spawn = multiprocessing.get_context("spawn")
        for projection in PROJECTIONS.values():
            slowest, stop = spawn.Value("d", 0.0), spawn.Event()
            reader = spawn.Process(
                target=read_until_stopped,
                args=(url, projection.name, keys[projection.name], slowest, stop),
            )
            if not args.no_reader:
                reader.start()
                time.sleep(1.0)  # let it connect and settle before the rebuild starts
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
                f"{slowest.value * 1000:.1f} ms"
            )
        engine.dispose()
    finally:
        if name is not None:
            with psycopg.connect(ADMIN, autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":
    main()
