"""One bench run: every phase in order, then the table and the JSON.

Order: raw Celery, naive dual write, lean task, bare endpoint (yardsticks first, nothing else
running); then outboxflow: POST window with no worker (its orders are the drain's backlog), drain,
latency at a fixed rate, bounded-rate search, projection rebuild, relay drain, commit→partner
receipt with WEBHOOK_URLS set, the ordered and unordered webhook drains; last the store
rebuild. ``--only-ordering`` runs the webhook drains alone. Whatever happens (an error,
Ctrl-C, SIGTERM) every started process is killed and the namespace removed.
"""

import os
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench import (
    machine,
    phase_baseline,
    phase_bounded,
    phase_maintenance,
    phase_ordering,
    phase_partner,
    phase_product,
    phase_web,
    report,
    yardstick_schema,
)
from bench.corner import corner
from bench.namespace import Namespace
from bench.outbox_watch import OutboxWatch
from bench.product_stack import ProductStack
from bench.profiles import Profile
from bench.progress import Progress
from bench.rig import Rig


def run(
    broker: str,
    profile: Profile,
    json_path: Path,
    keep_logs: bool = False,
    only_ordering: bool = False,
) -> dict[str, Any]:
    """Every phase, or with ``only_ordering`` the ordering phase alone (its figures only)."""
    progress = Progress()
    with corner(broker, progress, "outboxflow-bench-", keep_logs) as rig:
        namespace = rig.namespace
        meta: dict[str, Any] = {
            "broker": broker,
            "profile": profile.name,
            "namespace": namespace.name,
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine.describe(namespace),
            "load_average_at_start": os.getloadavg(),
        }
        labels: tuple[tuple[str, str], ...]
        ratios: tuple[report.Ratio, ...]
        targets: tuple[report.Target, ...]
        if only_ordering:
            figures, extra = _ordering_only(rig, profile, progress)
            labels, ratios, targets = report.ORDERING_LABELS, (), (report.ORDERING_TARGET,)
        else:
            figures, extra = _every_phase(rig, namespace, profile, progress)
            labels, ratios, targets = report.FIGURE_LABELS, report.RATIOS, report.TARGETS
            report.add_ratios(figures)
        checks = report.verdicts(figures, broker, targets)
        meta["seconds"] = round(progress.elapsed(), 1)
        meta["load_average_at_end"] = os.getloadavg()
        document = {
            "meta": meta,
            "profile": profile.__dict__,
            "figures": figures,
            "targets": checks,
            **extra,
        }
        report.write_json(json_path, document)
        print(report.table(figures, checks, meta, labels, ratios), flush=True)
        progress.say(f"done in {progress.elapsed():.0f} s; JSON in {json_path}")
        return document


def _every_phase(
    rig: Rig, namespace: Namespace, profile: Profile, progress: Progress
) -> tuple[dict[str, float], dict[str, Any]]:
    engine = sa.create_engine(namespace.database_url)
    yardstick_schema.create_tables(engine)
    engine.dispose()

    figures: dict[str, float] = {}
    figures |= phase_baseline.run_raw_celery(rig, profile, progress)
    figures |= phase_baseline.run_dual_write(rig, profile, progress)
    figures |= phase_baseline.run_lean(rig, profile, progress)
    figures |= phase_web.run_bare_endpoint(rig, profile, progress)

    stack = ProductStack(rig, progress)
    stack.start_web_and_beat()
    with closing(OutboxWatch(namespace.psycopg_dsn)) as watch:
        user_id = stack.register_user()
        figures |= phase_web.run_product_post(
            rig, profile, progress, stack.port, user_id, lambda: stack.cpu("web")
        )
        figures |= phase_product.run_drain(stack, watch)
        figures |= phase_product.run_latency(stack, watch, profile, user_id)
        bounded, windows = phase_bounded.run_bounded_search(stack, watch, profile, user_id)
        figures |= bounded
        figures |= phase_maintenance.run_rebuild(stack, watch)
        figures |= phase_maintenance.run_relay_drain(
            stack, watch, profile, figures["rebuild_startup_seconds"]
        )
        figures |= phase_partner.run_partner_latency(stack, watch, profile)
        ordering, drains = phase_ordering.run_ordering(stack, watch, profile)
        figures |= ordering
    figures |= phase_maintenance.run_store_rebuild(profile, progress)
    return figures, {"bounded_windows": windows, "ordering_drains": drains}


def _ordering_only(
    rig: Rig, profile: Profile, progress: Progress
) -> tuple[dict[str, float], dict[str, Any]]:
    """The ordering phase alone: migrated database, the relay and the worker (no web)."""
    stack = ProductStack(rig, progress)
    stack.migrate()
    with closing(OutboxWatch(rig.namespace.psycopg_dsn)) as watch:
        figures, drains = phase_ordering.run_ordering(stack, watch, profile)
    return figures, {"ordering_drains": drains}
