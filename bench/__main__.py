"""``python -m bench --broker redis|amqp --profile quick|full --json PATH [--only-ordering]``."""

import sys
from pathlib import Path

import click

from bench.namespace import BROKERS
from bench.processes import ProcessFailed
from bench.profiles import PROFILES
from bench.run import run


@click.command()
@click.option("--broker", type=click.Choice(BROKERS), default="redis", show_default=True)
@click.option("--profile", type=click.Choice(sorted(PROFILES)), default="full", show_default=True)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("bench-results.json"),
    show_default=True,
    help="Where to write every figure as JSON.",
)
@click.option("--keep-logs", is_flag=True, help="Keep the processes' logs (their path is shown).")
@click.option(
    "--only-ordering",
    is_flag=True,
    help="Run only the ordered-vs-unordered webhook drains (relay and worker, no web).",
)
def main(broker: str, profile: str, json_path: Path, keep_logs: bool, only_ordering: bool) -> None:
    """Measure outboxflow beside raw Celery, a naive dual write and a bare endpoint."""
    try:
        run(broker, PROFILES[profile], json_path, keep_logs=keep_logs, only_ordering=only_ordering)
    except KeyboardInterrupt:
        click.echo("interrupted: every started process was killed, the namespace removed", err=True)
        sys.exit(130)
    except ProcessFailed as exc:
        click.echo(f"bench failed: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
