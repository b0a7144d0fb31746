"""``python -m bench`` end to end: the quick profile yields every figure, and leaves nothing.

No timing is asserted: the bench's figures are for people to read, the test checks that each
one was measured (present, a finite number) and that the run cleaned up after itself.
"""

import json
import math
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import psycopg
import pytest
import sqlalchemy as sa

from bench import lean_task, sample_order, yardstick_schema
from bench.report import RATIOS, REQUIRED_FIGURES, TARGETS
from bench.rig import PROJECT_DIR
from tests.support.brokers import prefixed_keys
from tests.support.databases import PostgresAdmin

pytestmark = pytest.mark.system

BENCH = [sys.executable, "-m", "bench", "--broker", "redis", "--profile", "quick"]


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@pytest.mark.timeout(600)
def test_the_quick_profile_measures_every_figure_and_cleans_up(
    postgres_admin: PostgresAdmin, shared_redis_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [*BENCH, "--json", str(out)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    assert done.returncode == 0, f"bench failed:\n{done.stdout}\n{done.stderr}"
    document = json.loads(out.read_text())
    figures = document["figures"]

    expected = [*REQUIRED_FIGURES, *(r.name for r in RATIOS)]
    unmeasured = {k: figures.get(k) for k in expected if not _is_number(figures.get(k))}
    assert not unmeasured, f"figures missing or not numbers: {unmeasured}"
    assert [t["target"] for t in document["targets"]] == [t.label for t in TARGETS]
    assert all(isinstance(t["pass"], bool) for t in document["targets"])
    assert document["bounded_windows"], "the bounded-lag search ran no window"
    table = done.stdout
    missing_rows = [r.label for r in RATIOS if r.label not in table]
    missing_rows += [t.label for t in TARGETS if t.label not in table]
    assert not missing_rows, f"the stdout table lacks {missing_rows}:\n{table}"

    namespace = document["meta"]["namespace"]
    assert not postgres_admin.exists(namespace), "the bench left its database behind"
    assert prefixed_keys(shared_redis_url, f"{namespace}:") == []


@pytest.mark.timeout(300)
def test_ctrl_c_kills_every_started_process_and_removes_the_namespace(
    postgres_admin: PostgresAdmin, shared_redis_url: str, tmp_path: Path
) -> None:
    bench = subprocess.Popen(
        [*BENCH, "--json", str(tmp_path / "never.json")],
        cwd=PROJECT_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        namespace: str | None = None
        started: list[psutil.Process] = []
        assert bench.stderr is not None
        for line in bench.stderr:
            if " namespace " in line and namespace is None:
                namespace = line.split(" namespace ", 1)[1].split()[0]
            if "starting a worker" in line:
                break
        deadline = time.time() + 60
        while time.time() < deadline and not started:
            started = psutil.Process(bench.pid).children(recursive=True)
            time.sleep(0.2)
        assert namespace and started, "the bench never reached its first worker"
        time.sleep(2)
        started = psutil.Process(bench.pid).children(recursive=True)
        bench.send_signal(signal.SIGINT)
        assert bench.wait(timeout=120) == 130
    finally:
        if bench.poll() is None:
            bench.kill()
    _, alive = psutil.wait_procs(started, timeout=10)
    assert not alive, f"still running after Ctrl-C: {alive}"
    assert not postgres_admin.exists(namespace)
    assert prefixed_keys(shared_redis_url, f"{namespace}:") == []


def test_the_lean_task_does_the_dual_writes_work(postgres_admin: PostgresAdmin) -> None:
    """Both yardsticks read the same rows and leave the same summary: only the driver differs."""
    database = postgres_admin.create()
    engine = sa.create_engine(database.url)
    try:
        yardstick_schema.create_tables(engine)
        order_id = str(uuid.uuid4())
        with engine.begin() as conn:
            yardstick_schema.write_order(
                conn, order_id, yardstick_schema.BENCH_USER_ID, sample_order.ITEMS
            )
        summaries = []
        for project in ("lean", "dual write"):
            if project == "lean":
                dsn = database.url.replace("postgresql+psycopg", "postgresql")
                with psycopg.connect(dsn, autocommit=True) as raw:
                    lean_task.project_order(raw, order_id)
            else:
                with engine.begin() as conn:
                    yardstick_schema.project_order(conn, order_id)
            with engine.begin() as conn:
                summaries.append(conn.execute(sa.select(yardstick_schema.order_summaries)).one())
                conn.execute(sa.delete(yardstick_schema.order_summaries))
        assert summaries[0] == summaries[1]
        assert summaries[0].total_cents > 0 and summaries[0].items
    finally:
        engine.dispose()
        postgres_admin.drop(database.name)
