"""``python -m bench.summary FILE…``: medians of several runs' JSON, one column per broker.

Prints a Markdown table (figures, then ratios with their targets) ready for docs/performance.md.
The ordering phase's figures are taken again over every drain of every run on that broker
(pooled), not as a median of each run's medians.
"""

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.phase_ordering import Drain
from bench.phase_ordering import figures as ordering_figures
from bench.report import FIGURE_LABELS, RATIOS, TARGETS


def medians(documents: list[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """broker → figure → median over the runs on that broker (None if never measured)."""
    by_broker: dict[str, list[dict[str, Any]]] = defaultdict(list)
    drains: dict[str, list[Drain]] = defaultdict(list)
    for document in documents:
        by_broker[document["meta"]["broker"]].append(document["figures"])
        drains[document["meta"]["broker"]] += [
            Drain(**d) for d in document.get("ordering_drains", [])
        ]
    out: dict[str, dict[str, float | None]] = {}
    for broker, runs in by_broker.items():
        keys = {key for run in runs for key in run}
        out[broker] = {}
        for key in keys:
            values = [run[key] for run in runs if isinstance(run.get(key), int | float)]
            out[broker][key] = statistics.median(values) if values else None
        if drains[broker]:
            out[broker] |= ordering_figures(drains[broker])
    return out


def markdown(documents: list[dict[str, Any]]) -> str:
    table = medians(documents)
    brokers = [b for b in ("redis", "amqp") if b in table]
    runs = {b: sum(d["meta"]["broker"] == b for d in documents) for b in brokers}
    head = " | ".join(f"{b} (median of {runs[b]})" for b in brokers)
    goals = {t.value_key: t.goal for t in TARGETS}
    rows = [*FIGURE_LABELS, *((r.name, r.label) for r in RATIOS)]
    lines = [f"| figure | {head} |", "|---|" + "---|" * len(brokers)]
    for key, label in rows:
        goal = f" (target {goals[key]})" if key in goals else ""
        values = " | ".join(_fmt(table[b].get(key)) for b in brokers)
        lines.append(f"| {label}{goal} | {values} |")
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.0f}"


def main(paths: list[str]) -> None:
    documents = [json.loads(Path(p).read_text()) for p in paths]
    print(markdown(documents))


if __name__ == "__main__":
    main(sys.argv[1:])
