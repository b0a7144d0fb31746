"""``python -m bench.scale [--broker redis|amqp]… [--quick] [--workers 1,2,4,8] [--relays 1,2]``.

Runs each broker's matrix in turn, writes each one's JSON to
``<results-dir>/scale-<broker>-<n>.json`` (``n`` the next number free there), prints the
table of this run on stdout and draws it (``--plot``). Progress lines go to stderr.
"""

import sys
from pathlib import Path

import click

from bench.namespace import BROKERS
from bench.processes import ProcessFailed
from bench.progress import Progress
from bench.report import write_json
from bench.scale import plot, table
from bench.scale.matrix import run_matrix
from bench.scale.profile import chosen, parse_counts
from bench.scale.results import next_path

FULL_RESULTS = Path("bench/results")
FULL_PLOT = Path("docs/scale-out.png")
QUICK_RESULTS = Path("instance")
QUICK_PLOT = Path("instance/scale-out-quick.png")


def _counts(
    _ctx: click.Context, _param: click.Parameter, value: str | None
) -> tuple[int, ...] | None:
    if value is None:
        return None
    try:
        return parse_counts(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command()
@click.option(
    "--broker",
    "brokers",
    type=click.Choice(BROKERS),
    multiple=True,
    help="Repeat for both; default: redis, then amqp.",
)
@click.option("--quick", is_flag=True, help="Smoke run: 1 and 2 workers, short windows.")
@click.option("--workers", callback=_counts, help="Worker process counts, e.g. 1,2,4,8.")
@click.option("--relays", callback=_counts, help="Relay process counts, e.g. 1,2.")
@click.option(
    "--results-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help=f"Default {FULL_RESULTS} ({QUICK_RESULTS} with --quick).",
)
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"Default {FULL_PLOT} ({QUICK_PLOT} with --quick).",
)
@click.option("--keep-logs", is_flag=True, help="Keep the processes' logs (their path is shown).")
def main(
    brokers: tuple[str, ...],
    quick: bool,
    workers: tuple[int, ...] | None,
    relays: tuple[int, ...] | None,
    results_dir: Path | None,
    plot_path: Path | None,
    keep_logs: bool,
) -> None:
    """Deliveries/s and commit→handler start at each worker and relay count, per broker."""
    profile = chosen(quick, workers, relays)
    results_dir = results_dir or (QUICK_RESULTS if quick else FULL_RESULTS)
    plot_path = plot_path or (QUICK_PLOT if quick else FULL_PLOT)
    progress = Progress()
    documents = []
    try:
        for broker in brokers or BROKERS:
            document = run_matrix(broker, profile, progress, keep_logs)
            path = next_path(results_dir, broker)
            write_json(path, document)
            progress.say(f"{broker}: JSON in {path}")
            documents.append(document)
    except KeyboardInterrupt:
        click.echo("interrupted: every started process was killed, the namespace removed", err=True)
        sys.exit(130)
    except ProcessFailed as exc:
        click.echo(f"bench failed: {exc}", err=True)
        sys.exit(1)
    rows = table.rows(documents)
    print(table.text(rows), flush=True)
    plot.draw(rows, plot_path, f"outboxflow scale-out ({profile.name} profile)")
    progress.say(f"done in {progress.elapsed():.0f} s; plot in {plot_path}")


if __name__ == "__main__":
    main()
