"""The reference tables list every endpoint, header, setting and command the code has.

A route or a contract header added without its line in docs/http-api.md, or a setting or a
command without its line in docs/operations.md, fails here.
"""

import re
from dataclasses import fields
from pathlib import Path

import click
import pytest
from flask import Flask

from app.config import Settings

ROOT = Path(__file__).resolve().parents[2]
HTTP_API = ROOT / "docs" / "http-api.md"
OPERATIONS = ROOT / "docs" / "operations.md"
PATH = re.compile(r"(?<![\w.#])(/[A-Za-z0-9_.<>*/-]*)")
LIBRARY_COMMANDS = (("db", "upgrade"), ("openapi", "print"), ("openapi", "write"))
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


def table_rows(page: Path, heading: str) -> list[str]:
    """The table lines of one ``## heading`` section of ``page``."""
    section = page.read_text().split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| ")]


def shape(path: str) -> str:
    """``/api/orders/<order_id>`` and the table's ``/api/orders/<id>`` read the same."""
    return re.sub(r"<[^>]*>", "<>", path.rstrip("*"))


def test_every_route_and_its_methods_are_in_the_http_api_table(app: Flask) -> None:
    rows = [
        (row, {shape(p) for p in PATH.findall(row)}) for row in table_rows(HTTP_API, "Endpoints")
    ]
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        found = [row for row, paths in rows if shape(rule.rule) in paths]
        assert found, f"{rule.rule} is not in docs/http-api.md's Endpoints table"
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            assert any(re.search(rf"\b{method}\b", row) for row in found), (method, rule.rule)


@pytest.mark.parametrize("word", CONTRACT_WORDS)
def test_the_http_table_names_each_header_and_field(word: str) -> None:
    assert any(word in row for row in table_rows(HTTP_API, "Endpoints")), word


def test_every_setting_is_in_the_settings_table() -> None:
    rows = table_rows(OPERATIONS, "Settings")
    listed = {m.group(1) for row in rows if (m := re.match(r"\| `(\w+)` \|", row))}
    missing = {f.name.upper() for f in fields(Settings)} - listed
    assert not missing, f"docs/operations.md's Settings table lacks {sorted(missing)}"


def flask_commands(app: Flask) -> set[tuple[str, str]]:
    """(group, command) of every ``flask`` command group's commands: ours and Flask-Migrate's
    ``db upgrade`` and flask-smorest's ``openapi``."""
    found = set(LIBRARY_COMMANDS)
    context = click.Context(app.cli)
    for group_name in app.cli.list_commands(context):
        group = app.cli.get_command(context, group_name)
        if isinstance(group, click.Group):
            for name, command in group.commands.items():
                if getattr(command.callback, "__module__", "").startswith("app."):
                    found.add((group_name, name))
    assert ("aggregates", "verify") in found
    return found


def test_every_command_is_in_the_commands_table(app: Flask) -> None:
    table = "\n".join(table_rows(OPERATIONS, "Commands"))
    missing = [c for c in flask_commands(app) if f"flask --app app {' '.join(c)}" not in table]
    assert not missing, f"docs/operations.md's Commands table lacks {missing}"
    phony = re.search(r"^\.PHONY:(.*)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert phony
    assert [t for t in phony.group(1).split() if f"`make {t}`" not in table] == []
    for process in ("worker", "beat", "flower"):
        assert f"`celery -A tasks {process}`" in table, process
