"""The README's HTTP and command-line tables name every route, header and command the app
has, so a new endpoint, header or ``flask`` command cannot ship undocumented."""

import re
from pathlib import Path

import click
import pytest
from flask import Flask

README = (Path(__file__).parents[2] / "README.md").read_text()
DOCUMENTED_PREFIXES = ("/api/", "/healthz", "/readyz", "/metrics")
UNDOCUMENTED = ("/api/docs/assets/",)
"""Swagger UI's own files, covered by the ``GET /api/docs`` row."""
CONTRACT_WORDS = (
    "Idempotency-Key",
    "Idempotent-Replayed",
    "idempotency_key_reused",
    "idempotency_key_in_flight",
    "X-Event-Position",
    "X-Min-Position",
    "projection_lagging",
    "Retry-After",
    "next_after",
    "deliveries",
    "causation_id",
)


def table_rows(heading: str) -> list[str]:
    """The table lines of one ``## heading`` section."""
    section = README.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| ")]


def shape(path: str) -> str:
    """A path with its variables blanked: ``/api/orders/<order_id>`` -> ``/api/orders/<>``."""
    return re.sub(r"<[^>]*>", "<>", path)


def documented_routes() -> set[tuple[str, str]]:
    routes: set[tuple[str, str]] = set()
    for row in table_rows("HTTP API"):
        for methods, path in re.findall(r"`((?:GET|POST)(?:\\\|(?:GET|POST))*) (/[^`\s]*)`", row):
            routes.update((method, shape(path)) for method in methods.split("\\|"))
    return routes


def test_every_route_is_a_row_of_the_http_table(app: Flask) -> None:
    routes = {
        (method, shape(rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(DOCUMENTED_PREFIXES) and not rule.rule.startswith(UNDOCUMENTED)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
    }
    assert routes - documented_routes() == set()


@pytest.mark.parametrize("word", CONTRACT_WORDS)
def test_the_http_table_names_each_header_and_field(word: str) -> None:
    assert any(word in row for row in table_rows("HTTP API")), word


def test_every_flask_command_is_a_row_of_the_command_table(app: Flask) -> None:
    documented: set[tuple[str, str]] = set()
    for row in table_rows("Command line"):
        found = re.match(r"\| `flask --app app ([\w-]+)(?: ([\w\\|-]+))?", row)
        if found:
            group, names = found.groups()
            documented.update((group, name) for name in (names or "").split("\\|"))
    assert our_commands(app) - documented == set()


def our_commands(app: Flask) -> set[tuple[str, str]]:
    """(group, command) of every ``flask`` command defined in ``app`` (not Flask's or an
    extension's: ``run``, ``db``, ``openapi``)."""
    found: set[tuple[str, str]] = set()
    context = click.Context(app.cli)
    for group_name in app.cli.list_commands(context):
        group = app.cli.get_command(context, group_name)
        if isinstance(group, click.Group):
            for name, command in group.commands.items():
                if getattr(command.callback, "__module__", "").startswith("app."):
                    found.add((group_name, name))
    assert ("aggregates", "verify") in found
    return found
