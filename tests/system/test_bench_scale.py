"""``python -m bench.scale --quick`` end to end on Redis: every cell measured, table, JSON and
plot written, nothing left behind. No timing is asserted (the figures are for people)."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from bench.rig import PROJECT_DIR
from bench.scale.table import COLUMNS
from tests.support.brokers import prefixed_keys
from tests.support.databases import PostgresAdmin

pytestmark = pytest.mark.system

MEASURED = (
    "drain_deliveries_per_s",
    "commit_to_start_p50_ms",
    "commit_to_start_p99_ms",
    "pg_round_trips_per_delivery",
    "pg_cluster_wal_bytes_per_delivery",
    "pg_cpu_ms_per_delivery",
    "worker_cpu_ms_per_delivery",
    "relay_cpu_ms_per_delivery",
)


@pytest.mark.timeout(300)
def test_the_quick_matrix_measures_every_cell_and_cleans_up(
    postgres_admin: PostgresAdmin, shared_redis_url: str, tmp_path: Path
) -> None:
    plot = tmp_path / "scale.png"
    where = ["--results-dir", str(tmp_path), "--plot", str(plot)]
    done = subprocess.run(
        [sys.executable, "-m", "bench.scale", "--quick", "--broker", "redis", *where],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert done.returncode == 0, f"bench.scale failed:\n{done.stdout}\n{done.stderr}"
    document = json.loads((tmp_path / "scale-redis-1.json").read_text())
    cells = document["cells"]
    assert [(c["workers"], c["relays"]) for c in cells] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    for cell in cells:
        unmeasured = {
            k: cell.get(k)
            for k in MEASURED
            if not (isinstance(cell.get(k), float) and math.isfinite(cell[k]))
        }
        assert not unmeasured, f"cell {cell['workers']}x{cell['relays']}: {unmeasured}"
        assert cell["drain_extra_copies"] == 0 and cell["drain_command_errors"] == 0
        assert len(cell["load_average_before"]) == 3
    assert all(heading in done.stdout for _, heading in COLUMNS), done.stdout
    assert plot.read_bytes()[:4] == b"\x89PNG"
    namespace = document["meta"]["namespace"]
    assert not postgres_admin.exists(namespace), "the bench left its database behind"
    assert prefixed_keys(shared_redis_url, f"{namespace}:") == []
