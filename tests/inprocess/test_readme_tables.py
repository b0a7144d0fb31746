"""The README's tables list every endpoint, setting and command the code has.

A route, a setting or a command added without its line in the README fails here.
"""

import re
from dataclasses import fields
from pathlib import Path

import click
from flask import Flask

from app.config import Settings

ROOT = Path(__file__).resolve().parents[2]
OWN_COMMAND_GROUPS = ("outbox", "dead-letters", "projections", "events", "aggregates")
LIBRARY_COMMANDS = ("db upgrade", "openapi print", "openapi write")
PATH = re.compile(r"(?<![\w.#])(/[A-Za-z0-9_.<>*/-]*)")


def _section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def _rows(title: str) -> list[str]:
    return [line for line in _section(title).splitlines() if line.startswith("| ")]


def _normalized(path: str) -> str:
    """``/api/orders/<order_id>`` and the README's ``/api/orders/<id>`` read the same."""
    return re.sub(r"<[^>]*>", "<>", path.rstrip("*"))


def test_every_route_and_its_methods_are_in_the_http_api_table(app: Flask) -> None:
    rows = [(row, {_normalized(p) for p in PATH.findall(row)}) for row in _rows("HTTP API")]
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        found = [row for row, paths in rows if _normalized(rule.rule) in paths]
        assert found, f"{rule.rule} is not in the README's HTTP API table"
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            assert any(re.search(rf"\b{method}\b", row) for row in found), (method, rule.rule)


def test_every_setting_is_in_the_settings_table() -> None:
    listed = {m.group(1) for row in _rows("Settings") if (m := re.match(r"\| `(\w+)` \|", row))}
    missing = {f.name.upper() for f in fields(Settings)} - listed
    assert not missing, f"the README's Settings table lacks {sorted(missing)}"


def test_every_command_is_in_the_commands_table(app: Flask) -> None:
    table = "\n".join(_rows("Commands"))
    commands = list(LIBRARY_COMMANDS)
    for group_name in OWN_COMMAND_GROUPS:
        group = app.cli.commands[group_name]
        assert isinstance(group, click.Group)
        commands += [f"{group_name} {name}" for name in group.commands]
    missing = [c for c in commands if f"flask {c}" not in table]
    assert not missing, f"the README's Commands table lacks {missing}"
    phony = re.search(r"^\.PHONY:(.*)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert phony
    targets = phony.group(1).split()
    assert [t for t in targets if f"`make {t}`" not in table] == []
    for process in ("worker", "beat", "flower"):
        assert f"`celery -A tasks {process}`" in table, process
