"""One-way layers, checked by import-linter against the contracts in pyproject.toml."""

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"
LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))
FRAMEWORKS = {"flask", "sqlalchemy", "celery", "kombu", "marshmallow"}


def lint_imports(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LINT_IMPORTS, "--no-logo", "--no-cache", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def contracts() -> list[dict[str, Any]]:
    config = tomllib.loads(PYPROJECT.read_text())
    found: list[dict[str, Any]] = config["tool"]["importlinter"]["contracts"]
    return found


def forbids(source: str, forbidden: set[str]) -> bool:
    return any(
        c["type"] == "forbidden"
        and source in c["source_modules"]
        and forbidden <= set(c["forbidden_modules"])
        for c in contracts()
    )


def test_the_design_rules_are_contracts() -> None:
    assert forbids("app.domain", FRAMEWORKS | {"app.application", "app.infrastructure"})
    assert forbids("app.application", FRAMEWORKS | {"app.infrastructure", "app.api"})
    assert forbids("app", {"tasks"})
    assert forbids("app.infrastructure.persistence", {"app.infrastructure.messaging"})
    for entry_point in ("app.api", "app.cli", "tasks"):
        assert forbids(entry_point, {"app.infrastructure"}), entry_point


def test_every_import_contract_is_kept() -> None:
    done = lint_imports(PYPROJECT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Contracts: {len(contracts())} kept, 0 broken." in done.stdout


def test_a_broken_contract_is_reported(tmp_path: Path) -> None:
    """The check can fail: the API layer does import the domain, so forbidding it breaks."""
    config = tmp_path / "broken.toml"
    config.write_text(
        '[tool.importlinter]\nroot_packages = ["app", "tasks"]\n\n'
        "[[tool.importlinter.contracts]]\n"
        'name = "deliberately broken"\ntype = "forbidden"\n'
        'source_modules = ["app.api"]\nforbidden_modules = ["app.domain"]\n'
    )

    done = lint_imports(config)

    assert done.returncode != 0
    assert "deliberately broken BROKEN" in done.stdout
