"""The curve as a PNG: drain rate and commit→start latency against worker processes.

One line per (broker, relays); matplotlib draws off-screen (the Agg backend), so no display
is needed.
"""

import os
from collections.abc import Sequence
from pathlib import Path

from bench.scale.table import Row

LINE_STYLES = {1: "-", 2: "--"}
COLOURS = {"redis": "tab:red", "amqp": "tab:blue"}
RUN_MARKERS = {1: "o", 2: "x"}
"""One run's cell, by relay count, behind the median lines."""


def draw(table: list[Row], path: Path, title: str, runs: Sequence[list[Row]] = ()) -> None:
    """Two panels side by side, written to ``path`` (its folder is made if missing).

    ``table`` is drawn as lines (medians, when it summarises several runs); each of ``runs``
    (one run's rows) adds faint dots to the drain panel, to show how far the runs spread."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    figure, (rates, delays) = pyplot.subplots(1, 2, figsize=(11, 4.5), layout="constrained")
    for broker, relays in sorted({(r.broker, r.relays) for r in table}):
        line = sorted((r for r in table if (r.broker, r.relays) == (broker, relays)), key=_w)
        workers = [r.workers for r in line]
        style = LINE_STYLES.get(relays, ":")
        colour = COLOURS.get(broker, "tab:gray")
        label = f"{broker}, {relays} relay{'s' if relays > 1 else ''}"
        rates.plot(
            workers,
            [r.figures["drain_deliveries_per_s"] for r in line],
            style,
            marker="o",
            color=colour,
            label=label,
        )
        for quantile, marker in (("p50", "o"), ("p99", "^")):
            delays.plot(
                workers,
                [r.figures[f"commit_to_start_{quantile}_ms"] for r in line],
                style,
                marker=marker,
                color=colour,
                alpha=1.0 if quantile == "p99" else 0.6,
                label=f"{label} {quantile}",
            )
    for run in runs:
        for r in run:
            rates.plot(
                r.workers,
                r.figures["drain_deliveries_per_s"],
                RUN_MARKERS.get(r.relays, "."),
                color=COLOURS.get(r.broker, "tab:gray"),
                alpha=0.25,
                markersize=4,
            )
    ticks = sorted({r.workers for r in table})
    for axes in (rates, delays):
        axes.set_xscale("log", base=2)
        axes.set_xticks(ticks, [str(t) for t in ticks])
        axes.set_xlabel("worker processes (prefork pool)")
        axes.grid(True, alpha=0.3)
    rates.set_ylabel("backlog drain, deliveries/s")
    rates.set_ylim(bottom=0)
    rates.legend(fontsize="small")
    delays.set_ylabel("commit → handler start, ms")
    delays.set_yscale("log")
    delays.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    delays.yaxis.set_major_formatter(FuncFormatter(lambda value, _position: f"{value:g}"))
    delays.yaxis.set_minor_formatter(NullFormatter())
    delays.legend(fontsize="x-small", ncol=2)
    loads = [r.figures["load_average"] for r in table]
    figure.suptitle(
        f"{title}; 1-minute load average per cell {min(loads):.1f} to {max(loads):.1f} on"
        f" {os.cpu_count()} cores"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    pyplot.close(figure)


def _w(row: Row) -> int:
    return row.workers
