"""``python -m bench.scale.summary [--plot PATH] FILE…``: medians of several scale-out runs.

Prints the Markdown table for docs/performance.md and, with ``--plot``, redraws the PNG
from the same medians.
"""

from pathlib import Path

import click

from bench.scale import plot, table
from bench.scale.results import load


@click.command()
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path))
@click.argument(
    "paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
def main(plot_path: Path | None, paths: tuple[Path, ...]) -> None:
    """The Markdown table (and the plot) of these runs' medians."""
    try:
        documents = load(list(paths))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    rows = table.rows(documents)
    click.echo(table.markdown(rows))
    if plot_path is not None:
        runs = max((r.runs for r in rows), default=0)
        label = "one run" if runs == 1 else f"median of {runs} runs"
        each = [table.rows([document]) for document in documents] if runs > 1 else []
        plot.draw(rows, plot_path, f"outboxflow scale-out ({label} per cell)", each)


if __name__ == "__main__":
    main()
