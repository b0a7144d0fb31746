"""The scale-out bench's own logic on made-up runs: arguments, medians, table, plot, files."""

import json
import math
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from bench import sql_count, wal_share
from bench.scale import plot, table
from bench.scale.__main__ import main
from bench.scale.profile import FULL, QUICK, chosen, parse_counts
from bench.scale.results import load, next_path


def _cell(workers: int, relays: int, rate: float, **figures: Any) -> dict[str, Any]:
    return {
        "workers": workers,
        "relays": relays,
        "drain_deliveries_per_s": rate,
        "commit_to_start_p50_ms": 20.0,
        "commit_to_start_p99_ms": 60.0,
        "pg_round_trips_per_delivery": 4.25,
        "pg_wal_bytes_per_delivery": 3500.0,
        "pg_cpu_ms_per_delivery": 1.2,
        "worker_cpu_ms_per_delivery": 5.0,
        "relay_cpu_ms_per_delivery": 0.7,
        "load_average_before": [2.0, 1.0, 1.0],
        "load_average_after": [4.0, 1.0, 1.0],
        **figures,
    }


def _run(broker: str, cells: list[dict[str, Any]]) -> dict[str, Any]:
    return {"meta": {"broker": broker, "profile": "full"}, "cells": cells}


@pytest.fixture
def runs(tmp_path: Path) -> list[Path]:
    """Two amqp runs and one redis run, as the bench writes them."""
    documents = {
        "scale-amqp-1.json": _run("amqp", [_cell(1, 1, 100.0), _cell(2, 1, 150.0)]),
        "scale-amqp-2.json": _run(
            "amqp", [_cell(1, 1, 120.0), _cell(2, 1, 170.0, pg_wal_bytes_per_delivery=None)]
        ),
        "scale-redis-1.json": _run("redis", [_cell(1, 1, 90.0), _cell(1, 2, 95.0)]),
    }
    for name, document in documents.items():
        (tmp_path / name).write_text(json.dumps(document))
    return sorted(tmp_path.glob("scale-*.json"))


def test_counts_are_distinct_ascending_and_within_bounds() -> None:
    assert parse_counts("8,1, 4,2") == (1, 2, 4, 8)
    for wrong, says in [
        ("0,2", "between 1 and"),
        ("1,99", "between 1 and"),
        ("1,1", "twice"),
        ("one,two", "whole numbers"),
        (" , ", "at least one"),
    ]:
        with pytest.raises(ValueError, match=says):
            parse_counts(wrong)


def test_the_profiles_and_the_counts_that_replace_theirs() -> None:
    assert FULL.workers == (1, 2, 4, 8) and FULL.relays == (1, 2)
    assert chosen(quick=True, workers=None, relays=None) == QUICK
    custom = chosen(quick=False, workers=(2,), relays=(1,))
    assert (custom.workers, custom.relays, custom.name) == ((2,), (1,), "full")


def test_bad_counts_are_refused_before_anything_starts() -> None:
    answer = CliRunner().invoke(main, ["--workers", "0,2"])
    assert answer.exit_code == 2
    assert "between 1 and" in answer.output


def test_rows_are_medians_per_cell_brokers_in_order(runs: list[Path]) -> None:
    rows = table.rows(load(runs))
    assert [(r.broker, r.workers, r.relays, r.runs) for r in rows] == [
        ("redis", 1, 1, 1),
        ("redis", 1, 2, 1),
        ("amqp", 1, 1, 2),
        ("amqp", 2, 1, 2),
    ]
    amqp_two = rows[3].figures
    assert amqp_two["drain_deliveries_per_s"] == 160.0
    assert amqp_two["pg_wal_bytes_per_delivery"] == 3500.0, "a null is left out of the median"
    assert amqp_two["load_average"] == 3.0, "the 1-minute average before and after, averaged"


def test_a_figure_no_run_measured_shows_as_n_a(runs: list[Path]) -> None:
    document = _run("redis", [_cell(4, 1, 200.0, pg_cpu_ms_per_delivery=None)])
    rows = table.rows([document])
    assert math.isnan(rows[0].figures["pg_cpu_ms_per_delivery"])
    assert "n/a" in table.text(rows)


def test_the_text_and_markdown_tables_carry_every_column(runs: list[Path]) -> None:
    rows = table.rows(load(runs))
    for rendered in (table.text(rows), table.markdown(rows)):
        for _, heading in table.COLUMNS:
            assert heading in rendered
    markdown = table.markdown(rows).splitlines()
    assert len(markdown) == 2 + len(rows)
    assert markdown[2].startswith("| redis | 1 | 1 | 90.0 |")


def test_the_plot_is_a_png(runs: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "docs" / "scale-out.png"
    documents = load(runs)
    plot.draw(table.rows(documents), out, "test", [table.rows([d]) for d in documents])
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_results_are_numbered_per_broker_and_other_json_is_refused(
    runs: list[Path], tmp_path: Path
) -> None:
    assert next_path(tmp_path, "amqp").name == "scale-amqp-3.json"
    assert next_path(tmp_path, "redis").name == "scale-redis-2.json"
    assert next_path(tmp_path / "empty", "redis").name == "scale-redis-1.json"
    other = tmp_path / "bench.json"
    other.write_text(json.dumps({"figures": {}}))
    with pytest.raises(ValueError, match=r"not a bench\.scale result"):
        load([other])


def test_wal_records_count_for_the_database_that_wrote_them_and_their_commits() -> None:
    lines = [
        "rmgr: Heap len (rec/tot): 54/ 100, tx: 7, lsn: 0/1, prev 0/0, desc: INSERT, "
        "blkref #0: rel 1663/500/16385 blk 0",
        "rmgr: Heap len (rec/tot): 54/ 1000, tx: 8, lsn: 0/2, prev 0/1, desc: INSERT, "
        "blkref #0: rel 1663/600/16385 blk 0",
        "rmgr: Heap2 len (rec/tot): 40/ 40, tx: 0, lsn: 0/3, prev 0/2, desc: PRUNE, "
        "blkref #0: rel 1663/500/16385 blk 3",
        "rmgr: Transaction len (rec/tot): 34/ 30, tx: 7, lsn: 0/4, prev 0/3, desc: COMMIT",
        "rmgr: Transaction len (rec/tot): 34/ 300, tx: 8, lsn: 0/5, prev 0/4, desc: COMMIT",
        "rmgr: Standby len (rec/tot): 50/ 5000, tx: 0, lsn: 0/6, prev 0/5, desc: RUNNING_XACTS",
    ]
    share = wal_share.attributed_bytes(lines, 500)
    assert share.by_rmgr == {"Heap": 100, "Heap2": 40, "Transaction": 30}
    assert share.total == 170
    assert share.page_images == 100 - 54, "what a record carries beyond its own length"


def test_round_trips_are_statements_plus_begin_and_commit_of_each_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(sql_count.COUNT_DIR_ENV, str(tmp_path))
    sql_count.install()
    engine = sa.create_engine("sqlite://")
    before = sql_count.RoundTrips(**sql_count.current())
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT 1"))
        conn.execute(sa.text("SELECT 2"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("SELECT 3"))
    counted = sql_count.RoundTrips(**sql_count.current()) - before
    engine.dispose()
    sql_count.uninstall()
    assert (counted.statements, counted.transactions, counted.round_trips) == (3, 1, 5)
