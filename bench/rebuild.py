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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa

from app.application.event_handlers.projections import PROJECTIONS
from app.application.maintenance import RebuildReport
from app.infrastructure.persistence.database import engine_options, tune_engine
from app.infrastructure.persistence.rebuild import ProjectionRebuild
from app.infrastructure.persistence.tables import events, order_summaries, user_profiles

ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
FLASK = str(Path(sys.executable).with_name("flask"))


def event(
    aggregate_type: str, aggregate_id: str, version: int, kind: str, payload: dict[str, Any]
) -> dict[str, Any]:
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


@dataclass(frozen=True)
class Measured:
    """One projection's rebuild beside a reader process."""

    report: RebuildReport
    cpu_seconds: float
    slowest_read_seconds: float

    def line(self) -> str:
        r = self.report
        return (
            f"{r.name}: {r.rows} rows from {r.events} events in {r.seconds:.2f} s = "
            f"{r.events_per_second:,.0f} events/s ({r.events / self.cpu_seconds:,.0f} per "
            f"CPU-second of this process); swap {r.swap_seconds * 1000:.1f} ms; slowest "
            f"concurrent read {self.slowest_read_seconds * 1000:.1f} ms"
        )


@contextmanager
def throwaway_database(url: str | None = None) -> Iterator[str]:
    """``url``, or a new migrated PostgreSQL database on 127.0.0.1:5432 dropped afterwards."""
    if url is not None:
        yield url
        return
    name = f"of_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        env = {"DATABASE_URL": url, "PATH": str(Path(sys.executable).parent)}
        subprocess.run(
            [FLASK, "--app", "app", "db", "upgrade"], env=env, check=True, capture_output=True
        )
        yield url
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def measure(url: str, orders: int, batch_size: int, reader: bool = True) -> list[Measured]:
    """Seed ``orders`` orders' events, fill the projections once, then rebuild each again
    (the measured run) with a reader process selecting its rows throughout."""
    engine = sa.create_engine(url, **engine_options(url))
    tune_engine(engine)
    try:
        order_ids = seed(engine, orders)
        for projection in PROJECTIONS.values():
            ProjectionRebuild(engine, projection, batch_size).run()
        keys = {"order_summaries": order_ids, "user_profiles": user_ids(engine)}
        spawn = multiprocessing.get_context("spawn")
        measured = []
        for projection in PROJECTIONS.values():
            slowest, stop = spawn.Value("d", 0.0), spawn.Event()
            process = spawn.Process(
                target=read_until_stopped,
                args=(url, projection.name, keys[projection.name], slowest, stop),
                daemon=True,
            )
            if reader:
                process.start()
                time.sleep(1.0)  # let it connect and settle before the rebuild starts
            try:
                cpu = time.process_time()
                report = ProjectionRebuild(engine, projection, batch_size).run()
                cpu = time.process_time() - cpu
            finally:
                stop.set()
                if reader:
                    process.join(timeout=30)
            measured.append(Measured(report, cpu, slowest.value))
        return measured
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=20000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--database-url")
    parser.add_argument("--no-reader", action="store_true", help="Measure throughput alone.")
    args = parser.parse_args()
    with throwaway_database(args.database_url) as url:
        for result in measure(url, args.orders, args.batch_size, reader=not args.no_reader):
            print(result.line())


if __name__ == "__main__":
    main()
