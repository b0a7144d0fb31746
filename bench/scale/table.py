"""The curve as rows: one per (broker, workers, relays), medians over the runs given.

Reads the documents ``bench.scale`` writes (``bench/results/scale-<broker>-<n>.json``); a
figure a cell could not measure (null in the JSON) is left out of its median.
"""

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

COLUMNS = (
    ("drain_deliveries_per_s", "drain, deliveries/s"),
    ("commit_to_start_p50_ms", "commit→start p50, ms"),
    ("commit_to_start_p99_ms", "commit→start p99, ms"),
    ("pg_round_trips_per_delivery", "PG round trips / delivery"),
    ("pg_wal_bytes_per_delivery", "WAL bytes / delivery"),
    ("pg_cpu_ms_per_delivery", "PG CPU ms / delivery"),
    ("worker_cpu_ms_per_delivery", "worker CPU ms / delivery"),
    ("relay_cpu_ms_per_delivery", "relay CPU ms / delivery"),
    ("load_average", "load avg (1 min)"),
)
"""(figure, heading) of each column after broker, workers and relays."""
BROKER_ORDER = ("redis", "amqp")


@dataclass(frozen=True)
class Row:
    broker: str
    workers: int
    relays: int
    runs: int
    figures: dict[str, float]
    """Column figure → median over the runs (NaN when no run measured it)."""


def rows(documents: list[dict[str, Any]]) -> list[Row]:
    """One row per cell, brokers in ``BROKER_ORDER``, then by workers and relays."""
    cells: dict[tuple[str, int, int], list[dict[str, Any]]] = defaultdict(list)
    for document in documents:
        broker = str(document["meta"]["broker"])
        for cell in document["cells"]:
            cells[(broker, int(cell["workers"]), int(cell["relays"]))].append(cell)
    out = []
    for key in sorted(cells, key=_order):
        runs = cells[key]
        figures = {name: _median([_figure(c, name) for c in runs]) for name, _ in COLUMNS}
        out.append(Row(*key, runs=len(runs), figures=figures))
    return out


def text(table: list[Row]) -> str:
    """Fixed-width columns for a terminal."""
    headings = ["broker", "workers", "relays", *(h for _, h in COLUMNS)]
    body = [
        [r.broker, str(r.workers), str(r.relays), *(fmt(r.figures[n]) for n, _ in COLUMNS)]
        for r in table
    ]
    widths = [max(len(line[i]) for line in [headings, *body]) for i in range(len(headings))]
    return "\n".join(
        "  ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True))
        for line in [headings, *body]
    )


def markdown(table: list[Row]) -> str:
    """A Markdown table for docs/performance.md."""
    headings = ["broker", "workers", "relays", *(h for _, h in COLUMNS)]
    lines = ["| " + " | ".join(headings) + " |", "|---" * len(headings) + "|"]
    for r in table:
        values = [r.broker, str(r.workers), str(r.relays)]
        values += [fmt(r.figures[name]) for name, _ in COLUMNS]
        lines.append("| " + " | ".join(values) + " |")
    return "\n".join(lines)


def fmt(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def _figure(cell: dict[str, Any], name: str) -> float | None:
    if name == "load_average":
        before, after = cell["load_average_before"][0], cell["load_average_after"][0]
        return (float(before) + float(after)) / 2
    value = cell.get(name)
    return float(value) if isinstance(value, int | float) else None


def _median(values: list[float | None]) -> float:
    present = [v for v in values if v is not None and not math.isnan(v)]
    return statistics.median(present) if present else float("nan")


def _order(key: tuple[str, int, int]) -> tuple[int, str, int, int]:
    broker, workers, relays = key
    rank = BROKER_ORDER.index(broker) if broker in BROKER_ORDER else len(BROKER_ORDER)
    return (rank, broker, workers, relays)
