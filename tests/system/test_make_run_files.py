"""`make run`'s processes (the Procfile, under honcho) write nothing outside instance/ that
git would see, and the web says at start which endpoints are open.

They run in a fresh clone of this repository, with only the Procfile's fixed ports
replaced by free ones (the real ones may be in use by a developer's `make run`).
"""

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.support.databases import process_env
from tests.support.processes import ManagedProcess
from tests.support.services import HOST, free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.system

ROOT = Path(__file__).resolve().parents[2]
HONCHO = str(Path(sys.executable).with_name("honcho"))
FIXED_PORTS = {"6390": "broker", "5000": "web", "5555": "flower"}


def _clone(tmp_path: Path) -> Path:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=60)
    return clone


def _git_status(clone: Path) -> list[str]:
    done = subprocess.run(
        ["git", "status", "--porcelain", "--ignored", "--untracked-files=all"],
        cwd=clone,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.splitlines()


def test_make_run_writes_only_inside_instance(tmp_path: Path) -> None:
    clone = _clone(tmp_path)
    ports = {name: str(free_port()) for name in FIXED_PORTS.values()}
    procfile = (clone / "Procfile").read_text()
    for fixed, name in FIXED_PORTS.items():
        procfile = procfile.replace(f"--port {fixed}", f"--port {ports[name]}")
        procfile = procfile.replace(f"--port={fixed}", f"--port={ports[name]}")
    (tmp_path / "Procfile").write_text(procfile)
    assert _git_status(clone) == []

    env = process_env({"CELERY_BROKER_URL": f"redis://{HOST}:{ports['broker']}/0"})
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    migrated = subprocess.run(
        ["flask", "--app", "app", "db", "upgrade"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert migrated.returncode == 0, migrated.stderr
    run = ManagedProcess(
        "make-run",
        [HONCHO, "start", "-f", str(tmp_path / "Procfile"), "-d", str(clone)],
        env=env,
        cwd=clone,
        log_path=tmp_path / "honcho.log",
    ).start()
    try:
        web = f"http://{HOST}:{ports['web']}"

        def serving() -> bool:
            run.check_alive()
            try:
                flower = requests.get(f"http://{HOST}:{ports['flower']}/healthcheck", timeout=2)
                return requests.get(f"{web}/healthz", timeout=2).ok and flower.ok
            except requests.ConnectionError:
                return False

        wait_until(serving, timeout=90, what="web and Flower to answer", describe=run.tail)
        created = requests.post(
            f"{web}/api/users", json={"email": "run@example.com", "name": "Run"}, timeout=10
        )
        assert created.status_code == 201, created.text
        run.wait_for_log(r"send_welcome_email.*succeeded", timeout=60)
        run.wait_for_log(r"web\.1\s+\| .*ADMIN_TOKEN is unset: operational endpoints", timeout=5)
    finally:
        run.stop()
    outside = [
        line
        for line in _git_status(clone)
        if not line[3:].startswith("instance/") and "__pycache__/" not in line
    ]
    assert outside == [], outside
    assert (clone / "instance" / "outboxflow.db").exists()
