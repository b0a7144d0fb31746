"""Ratios, the issue's targets beside them, the stdout table and the JSON document."""

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.numbers import ratio


@dataclass(frozen=True)
class Ratio:
    name: str
    label: str
    numerator: str
    denominator: str


RATIOS = (
    Ratio(
        "drain_over_dual_write",
        "backlog drain / dual-write consume",
        "drain_deliveries_per_s",
        "dual_write_consume_per_s",
    ),
    Ratio(
        "worker_cpu_over_dual_write",
        "worker CPU per delivery / dual-write task",
        "drain_worker_cpu_ms_per_delivery",
        "dual_write_worker_cpu_ms_per_task",
    ),
    Ratio(
        "drain_over_lean",
        "backlog drain / lean task consume",
        "drain_deliveries_per_s",
        "lean_consume_per_s",
    ),
    Ratio(
        "worker_cpu_over_lean",
        "worker CPU per delivery / lean task",
        "drain_worker_cpu_ms_per_delivery",
        "lean_worker_cpu_ms_per_task",
    ),
    Ratio("post_over_bare", "POST /api/orders / bare endpoint", "post_req_per_s", "bare_req_per_s"),
    Ratio(
        "latency_p50_over_raw",
        "commit→start p50 / raw apply→start p50",
        "commit_to_start_p50_ms",
        "raw_apply_to_start_p50_ms",
    ),
    Ratio(
        "latency_p99_over_raw",
        "commit→start p99 / raw apply→start p99",
        "commit_to_start_p99_ms",
        "raw_apply_to_start_p99_ms",
    ),
    Ratio(
        "relay_over_apply_async",
        "relay drain / one-by-one apply_async",
        "relay_drain_per_s",
        "raw_publish_per_s",
    ),
)


@dataclass(frozen=True)
class Target:
    label: str
    value_key: str
    passes: Callable[[float], bool]
    goal: str
    brokers: tuple[str, ...] = ("redis", "amqp")


ORDERING_TARGET = Target(
    "ordered webhooks drain ≥ 0.9x unordered",
    "ordering_ordered_over_unordered",
    lambda v: v >= 0.9,
    "≥ 0.9",
)
TARGETS = (
    Target("drain ≥ 0.8x dual write", "drain_over_dual_write", lambda v: v >= 0.8, "≥ 0.8"),
    Target(
        "worker CPU ≤ 1.5x dual write", "worker_cpu_over_dual_write", lambda v: v <= 1.5, "≤ 1.5"
    ),
    Target("drain ≥ 0.7x lean task", "drain_over_lean", lambda v: v >= 0.7, "≥ 0.7"),
    Target("worker CPU ≤ 1.6x lean task", "worker_cpu_over_lean", lambda v: v <= 1.6, "≤ 1.6"),
    Target("POST ≥ 0.6x bare endpoint", "post_over_bare", lambda v: v >= 0.6, "≥ 0.6"),
    Target(
        "bounded lag at ≥ 60 commands/s",
        "bounded_rate_per_s",
        lambda v: v >= 60,
        "≥ 60/s",
        ("redis",),
    ),
    Target(
        "commit→start p50 ≤ 10 ms at 10/s", "commit_to_start_p50_ms", lambda v: v <= 10, "≤ 10 ms"
    ),
    Target(
        "commit→start p99 ≤ 40 ms at 10/s", "commit_to_start_p99_ms", lambda v: v <= 40, "≤ 40 ms"
    ),
    Target(
        "commit→partner p50 ≤ 15 ms at 10/s",
        "commit_to_partner_p50_ms",
        lambda v: v <= 15,
        "≤ 15 ms",
    ),
    Target("relay drain ≥ 5x apply_async", "relay_over_apply_async", lambda v: v >= 5, "≥ 5"),
    ORDERING_TARGET,
    Target(
        "rebuild ≥ 20k events/s (PostgreSQL)",
        "store_rebuild_events_per_s",
        lambda v: v >= 20_000,
        "≥ 20k/s",
    ),
)

ORDERING_LABELS = (
    ("ordering_unordered_per_s", "webhooks unordered: drain, deliveries/s"),
    ("ordering_ordered_per_s", "webhooks ordered by order: drain, deliveries/s"),
    ("ordering_ordered_over_unordered", "webhooks: ordered / unordered drain"),
    ("ordering_unordered_worker_cpu_ms", "webhooks unordered: worker CPU per delivery, ms"),
    ("ordering_ordered_worker_cpu_ms", "webhooks ordered: worker CPU per delivery, ms"),
    ("ordering_unordered_relay_cpu_ms", "webhooks unordered: relay CPU per delivery, ms"),
    ("ordering_ordered_relay_cpu_ms", "webhooks ordered: relay CPU per delivery, ms"),
    (
        "ordering_cpu_unordered_over_ordered",
        "webhooks: unordered / ordered worker + relay CPU per delivery",
    ),
    ("ordering_unordered_out_of_order_keys", "webhooks unordered: orders received out of order"),
    ("ordering_ordered_out_of_order_keys", "webhooks ordered: orders received out of order"),
    (
        "ordering_retrying_unordered_others_per_s",
        "webhooks unordered, 5% heads retrying: other orders, deliveries/s",
    ),
    (
        "ordering_retrying_ordered_others_per_s",
        "webhooks ordered, 5% heads retrying: other orders, deliveries/s",
    ),
    (
        "ordering_retrying_ordered_over_unordered",
        "webhooks, 5% heads retrying: ordered / unordered, other orders",
    ),
    ("ordering_retrying_unordered_seconds", "webhooks unordered, 5% heads retrying: drain, s"),
    ("ordering_retrying_ordered_seconds", "webhooks ordered, 5% heads retrying: drain, s"),
    (
        "ordering_retrying_unordered_out_of_order_keys",
        "webhooks unordered, 5% heads retrying: orders received out of order",
    ),
    (
        "ordering_retrying_ordered_out_of_order_keys",
        "webhooks ordered, 5% heads retrying: orders received out of order",
    ),
)
"""The ordering phase's figures (``bench.phase_ordering``): also the standalone run's table."""

FIGURE_LABELS = (
    ("raw_publish_per_s", "raw Celery: one-by-one apply_async, tasks/s"),
    ("raw_consume_per_s", "raw Celery: consume from backlog, tasks/s"),
    ("raw_apply_to_start_p50_ms", "raw Celery: apply→start p50, ms"),
    ("raw_apply_to_start_p99_ms", "raw Celery: apply→start p99, ms"),
    ("raw_worker_cpu_ms_per_task", "raw Celery: worker CPU per no-op task, ms"),
    ("dual_write_consume_per_s", "dual write: consume from backlog, tasks/s"),
    ("dual_write_worker_cpu_ms_per_task", "dual write: worker CPU per task, ms"),
    ("lean_consume_per_s", "lean task: consume from backlog, tasks/s"),
    ("lean_worker_cpu_ms_per_task", "lean task: worker CPU per task, ms"),
    ("bare_req_per_s", "bare endpoint: req/s (8 clients)"),
    ("bare_p50_ms", "bare endpoint: p50, ms"),
    ("post_req_per_s", "POST /api/orders: req/s (8 clients)"),
    ("post_p50_ms", "POST /api/orders: p50, ms"),
    ("post_web_cpu_ms_per_request", "POST /api/orders: web CPU per request, ms"),
    ("drain_deliveries_per_s", "outboxflow: backlog drain, deliveries/s"),
    ("drain_worker_cpu_ms_per_delivery", "outboxflow: worker CPU per delivery (drain), ms"),
    ("drain_extra_copies", "outboxflow: drain, extra task copies of a delivery"),
    ("commit_to_start_p50_ms", "outboxflow: occurred_at→handler start p50, ms"),
    ("commit_to_start_p99_ms", "outboxflow: occurred_at→handler start p99, ms"),
    ("commit_to_partner_p50_ms", "outboxflow: occurred_at→webhook partner's receipt p50, ms"),
    ("commit_to_partner_p99_ms", "outboxflow: occurred_at→webhook partner's receipt p99, ms"),
    ("response_to_start_p50_ms", "outboxflow: 2xx answer→handler start p50, ms"),
    ("response_to_start_p99_ms", "outboxflow: 2xx answer→handler start p99, ms"),
    ("cpu_ms_per_delivery_web", "outboxflow at 10/s: web CPU per delivery, ms"),
    ("cpu_ms_per_delivery_worker", "outboxflow at 10/s: worker CPU per delivery, ms"),
    ("cpu_ms_per_delivery_beat", "outboxflow at 10/s: beat CPU per delivery, ms"),
    ("cpu_ms_per_delivery_relay", "outboxflow at 10/s: relay process CPU per delivery, ms"),
    ("bounded_rate_per_s", "outboxflow: highest bounded command rate, /s"),
    ("rebuild_events_per_s", "outboxflow: projection rebuild, events/s"),
    ("relay_drain_per_s", "outboxflow: relay drain, deliveries published/s"),
    ("store_rebuild_events_per_s", "rebuild of a seeded PostgreSQL store, events/s"),
    ("store_rebuild_slowest_read_ms", "rebuild of a seeded store: slowest concurrent read, ms"),
    ("store_rebuild_swap_ms", "rebuild of a seeded store: longest swap, ms"),
    *ORDERING_LABELS,
)
REQUIRED_FIGURES = tuple(key for key, _ in FIGURE_LABELS)


def add_ratios(figures: dict[str, float]) -> None:
    for r in RATIOS:
        figures[r.name] = ratio(figures[r.numerator], figures[r.denominator])


def verdicts(
    figures: dict[str, float], broker: str, targets: tuple[Target, ...] = TARGETS
) -> list[dict[str, Any]]:
    out = []
    for target in targets:
        value = figures[target.value_key]
        applies = broker in target.brokers
        passed = applies and not math.isnan(value) and target.passes(value)
        out.append(
            {
                "target": target.label,
                "figure": target.value_key,
                "value": value,
                "goal": target.goal,
                "applies": applies,
                "pass": passed,
            }
        )
    return out


def table(
    figures: dict[str, float],
    checks: list[dict[str, Any]],
    meta: dict[str, Any],
    labels: tuple[tuple[str, str], ...] = FIGURE_LABELS,
    ratios: tuple[Ratio, ...] = RATIOS,
) -> str:
    """Figures (``labels``), then ``ratios``, then the targets' verdicts."""
    width = max(len(label) for _, label in labels) + 2
    lines = [
        f"outboxflow bench: broker {meta['broker']}, profile {meta['profile']}"
        f"{' (short windows: figures are indicative only)' if meta['profile'] == 'quick' else ''}",
        "",
    ]
    lines += [f"{label:<{width}}{_fmt(figures[key]):>10}" for key, label in labels]
    if ratios:
        lines += ["", f"{'ratio':<{width}}{'value':>10}"]
        lines += [f"{r.label:<{width}}{_fmt(figures[r.name]):>10}" for r in ratios]
    lines += ["", f"{'target':<{width}}{'value':>10}  goal      result"]
    for check in checks:
        result = ("PASS" if check["pass"] else "FAIL") if check["applies"] else "n/a (Redis only)"
        lines.append(
            f"{check['target']:<{width}}{_fmt(check['value']):>10}  {check['goal']:<9} {result}"
        )
    return "\n".join(lines)


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.0f}"


def write_json(path: Path, document: dict[str, Any]) -> None:
    """A figure that could not be measured (NaN) is written as null."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_no_nan(document), indent=2, sort_keys=True) + "\n")


def _no_nan(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_nan(v) for v in value]
    return value
