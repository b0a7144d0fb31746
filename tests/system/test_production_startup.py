"""APP_ENV=production: web, worker and beat refuse to start without safe settings; with them,
the web serves and logs JSON lines. Real subprocesses, as a deployment starts them."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.support.databases import process_env
from tests.support.processes import CELERY, ManagedProcess
from tests.support.services import HOST, free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.system

FLASK = str(Path(sys.executable).with_name("flask"))
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
GOOD_TOKEN = "p" * 32
SECRET = "a-secret-key-for-sessions"

UNSAFE = [
    pytest.param({}, ["ADMIN_TOKEN", "SECRET_KEY"], id="nothing-set"),
    pytest.param(
        {"ADMIN_TOKEN": "p" * 31, "SECRET_KEY": SECRET}, ["ADMIN_TOKEN"], id="short-token"
    ),
    pytest.param({"ADMIN_TOKEN": GOOD_TOKEN}, ["SECRET_KEY"], id="no-secret-key"),
]


def _env(tmp_path: Path, **settings: str) -> dict[str, str]:
    return process_env(
        {
            "APP_ENV": "production",
            "INSTANCE_DIR": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{tmp_path}/prod.db",
            "CELERY_BROKER_URL": "memory://",
            **settings,
        }
    )


def _commands(port: int) -> dict[str, list[str]]:
    return {
        "web": [FLASK, "--app", "app", "run", "--host", HOST, "--port", str(port)],
        "gunicorn": [GUNICORN, "--preload", "--bind", f"{HOST}:{port}", "app:create_app()"],
        "worker": [CELERY, "-A", "tasks", "worker", "--pool", "solo", "--loglevel", "INFO"],
        "beat": [CELERY, "-A", "tasks", "--quiet", "beat", "--loglevel", "INFO"],
    }


@pytest.mark.parametrize("process", ["web", "gunicorn", "worker", "beat"])
@pytest.mark.parametrize(("settings", "named"), UNSAFE)
def test_production_refuses_to_start_with_one_line(
    tmp_path: Path, process: str, settings: dict[str, str], named: list[str]
) -> None:
    done = subprocess.run(
        _commands(free_port())[process],
        env=_env(tmp_path, **settings),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    reason = lines[-1]
    assert reason.startswith("outboxflow refuses to start with APP_ENV=production: "), lines
    for name in named:
        assert name in reason
    assert "Traceback" not in done.stderr, done.stderr
    if process != "gunicorn":
        assert lines == [reason], lines


def test_production_web_starts_and_logs_json(tmp_path: Path) -> None:
    port = free_port()
    web = ManagedProcess(
        "gunicorn",
        [*_commands(port)["gunicorn"], "--workers", "1", "--access-logfile", "-"],
        env=_env(tmp_path, ADMIN_TOKEN=GOOD_TOKEN, SECRET_KEY=SECRET),
        cwd=tmp_path,
        log_path=tmp_path / "gunicorn.log",
    ).start()
    try:
        base = f"http://{HOST}:{port}"

        def answering() -> bool:
            web.check_alive()
            try:
                return requests.get(f"{base}/healthz", timeout=2).status_code == 200
            except requests.ConnectionError:
                return False

        wait_until(answering, timeout=60, what="gunicorn to answer /healthz", describe=web.tail)
        stats = requests.get(f"{base}/api/outbox/stats", timeout=5)
        assert stats.status_code == 401
        not_ready = requests.get(f"{base}/readyz", headers={"X-Correlation-ID": "of-prod-1"})
        assert not_ready.status_code == 503, not_ready.text
        web.wait_for_log(r"not ready", timeout=10)
        web.wait_for_log(r"GET /readyz", timeout=10)
    finally:
        web.stop()
    records = []
    for line in web.log_text().splitlines():
        if line.startswith("==== ") or not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            raise AssertionError(f"gunicorn wrote a line that is not JSON: {line!r}") from None
    warning = next(r for r in records if r["message"].startswith("not ready"))
    assert warning["correlation_id"] == "of-prod-1" and warning["level"] == "WARNING"
    assert any("GET /readyz" in r["message"] for r in records)
