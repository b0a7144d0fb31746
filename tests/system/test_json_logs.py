"""LOG_FORMAT=json: a real worker and beat write one JSON object per line, with the ids."""

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import BEAT_READY, CELERY, ManagedProcess
from tests.support.stack import Stack

pytestmark = pytest.mark.system

JSON_LOGS = {"LOG_FORMAT": "json"}
HANDLER_IDS = ("correlation_id", "causation_id", "event_id", "handler", "delivery_id")


def _records(process: ManagedProcess) -> list[dict[str, Any]]:
    """Every line the process wrote (stdout and stderr), parsed; the harness's own are skipped."""
    records = []
    for line in process.log_text().splitlines():
        if line.startswith("==== ") or not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            raise AssertionError(
                f"{process.name} wrote a line that is not JSON: {line!r}"
            ) from None
    return records


def _procfile_beat_argv() -> list[str]:
    """The Procfile's beat command (with its --quiet), at INFO so the start is logged."""
    procfile = (Path(__file__).resolve().parents[2] / "Procfile").read_text()
    command = next(line for line in procfile.splitlines() if line.startswith("beat:"))
    words = command.split(":", 1)[1].split()
    assert words[:3] == ["celery", "-A", "tasks"], command
    return [CELERY, *words[1 : words.index("--loglevel")], "--loglevel", "INFO"]


def test_worker_and_beat_log_json_lines_with_the_ids(stack: Stack) -> None:
    worker = stack.start_worker(env=JSON_LOGS)
    beat = ManagedProcess(
        "beat-json",
        _procfile_beat_argv(),
        env=stack.process_env(**JSON_LOGS),
        cwd=stack.instance_dir,
        log_path=stack.logs_dir / "beat-json.log",
    )
    stack.processes.append(beat)
    beat.start().wait_for_log(BEAT_READY, timeout=60)

    correlation_id = "of-json-logs-1"
    response = stack.client.post(
        "/api/users",
        json={"email": "json@example.com", "name": "Jason"},
        headers={"X-Correlation-ID": correlation_id},
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    stack.wait_drained()
    worker.wait_for_log(r"succeeded", timeout=30)

    worker_records = _records(worker)
    assert {"time", "level", "logger", "message"} <= set(worker_records[0])
    traced = [r for r in worker_records if r.get("correlation_id") == correlation_id]
    assert traced, "no worker record carries the request's correlation id"
    handled = [r for r in traced if all(r.get(name) for name in HANDLER_IDS)]
    assert handled, f"no record names event, handler and delivery: {traced[:3]}"
    assert {r["handler"] for r in handled} >= {"send_welcome_email"}
    assert all(isinstance(r["delivery_id"], int) for r in handled)

    beat_records = _records(beat)
    assert any("Starting" in r["message"] for r in beat_records), beat_records[:5]
