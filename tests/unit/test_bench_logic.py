"""The bench's own arithmetic and judgements, on made-up samples (no processes)."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench import probe
from bench.load import Answer, CreateAndPay, LoadResult
from bench.numbers import percentile, slope
from bench.outbox_watch import OutboxSample
from bench.phase_bounded import Window, _judge, next_rate
from bench.phase_ordering import Drain, figures
from bench.probe import ProbeRecord
from bench.product_stack import first_starts
from bench.report import TARGETS, add_ratios, verdicts
from bench.rig import procfile_command, procfile_worker_queues
from bench.summary import medians
from bench.webhook_receiver import WebhookReceiver


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([7.0], 99) == 7.0


def test_slope_of_a_line_and_of_too_few_points() -> None:
    assert slope([(0, 1), (1, 3), (2, 5)]) == pytest.approx(2.0)
    assert slope([(0, 4)]) == 0.0


def _samples(backlogs: list[int], arrivals_per_sample: int = 100) -> list[OutboxSample]:
    return [
        OutboxSample(at=i * 0.5, unfinished=b, last_id=i * arrivals_per_sample)
        for i, b in enumerate(backlogs)
    ]


def _load(answered: int, seconds: float) -> LoadResult:
    result = LoadResult(started=0.0, finished=seconds)
    result.answers = [Answer(201, {}, 0.0, 0.01) for _ in range(answered)]
    return result


def test_a_flat_backlog_at_the_offered_rate_is_bounded() -> None:
    window = _judge(20.0, _load(200, 10.0), _samples([5, 30, 12, 25, 8, 20, 10, 30, 15, 9]), [])
    assert window.bounded, window.reason


def test_a_growing_backlog_is_not_bounded() -> None:
    window = _judge(20.0, _load(200, 10.0), _samples([0, 50, 100, 150, 200, 250, 300]), [])
    assert not window.bounded
    assert "grew" in window.reason


def test_a_server_that_cannot_answer_the_offered_rate_is_not_bounded() -> None:
    window = _judge(40.0, _load(200, 10.0), _samples([0, 1, 0, 1, 0]), [])
    assert not window.bounded
    assert "answered" in window.reason


def test_targets_pass_fail_and_the_redis_only_one(tmp_path: Path) -> None:
    figures = {
        "drain_deliveries_per_s": 90.0,
        "dual_write_consume_per_s": 100.0,
        "drain_worker_cpu_ms_per_delivery": 6.0,
        "dual_write_worker_cpu_ms_per_task": 3.0,
        "lean_consume_per_s": 150.0,
        "lean_worker_cpu_ms_per_task": 4.0,
        "post_req_per_s": 300.0,
        "bare_req_per_s": 600.0,
        "commit_to_start_p50_ms": 9.0,
        "raw_apply_to_start_p50_ms": 4.0,
        "commit_to_partner_p50_ms": 15.0,
        "commit_to_start_p99_ms": 70.0,
        "raw_apply_to_start_p99_ms": 10.0,
        "relay_drain_per_s": 2000.0,
        "raw_publish_per_s": 500.0,
        "bounded_rate_per_s": 30.0,
        "store_rebuild_events_per_s": 19_999.0,
        "ordering_ordered_over_unordered": 0.89,
    }
    add_ratios(figures)
    on_redis = {v["target"]: v["pass"] for v in verdicts(figures, "redis")}
    assert on_redis == {
        "drain ≥ 0.8x dual write": True,
        "worker CPU ≤ 1.5x dual write": False,
        "drain ≥ 0.7x lean task": False,
        "worker CPU ≤ 1.6x lean task": True,
        "POST ≥ 0.6x bare endpoint": False,
        "bounded lag at ≥ 60 commands/s": False,
        "commit→start p50 ≤ 10 ms at 10/s": True,
        "commit→start p99 ≤ 40 ms at 10/s": False,
        "commit→partner p50 ≤ 15 ms at 10/s": True,
        "relay drain ≥ 5x apply_async": False,
        "rebuild ≥ 20k events/s (PostgreSQL)": False,
        "ordered webhooks drain ≥ 0.9x unordered": False,
    }
    on_amqp = verdicts(figures, "amqp")
    assert [v["applies"] for v in on_amqp] == [t.brokers != ("redis",) for t in TARGETS]


def test_the_worker_consumes_the_procfile_queues(tmp_path: Path) -> None:
    procfile = tmp_path / "Procfile"
    procfile.write_text("web: flask run\nworker: celery -A tasks worker --queues a,b -c 2\n")
    assert procfile_worker_queues(procfile) == "a,b"


def test_the_relay_runs_only_when_the_procfile_has_one(tmp_path: Path) -> None:
    procfile = tmp_path / "Procfile"
    procfile.write_text("web: flask run\nrelay: flask --app app outbox relay --follow\n")
    assert procfile_command("relay", procfile) == "flask --app app outbox relay --follow"
    assert procfile_command("flower", procfile) is None


def test_the_probe_finds_the_envelope_in_a_delivery_and_nothing_in_other_tasks() -> None:
    envelope = {"event_id": "e1", "occurred_at": "2026-01-01T00:00:00+00:00", "payload": {}}
    assert probe._envelope((), {"delivery_id": 3, "envelope": envelope}) is envelope
    assert probe._envelope((7, envelope), {}) is envelope
    assert probe._envelope((), {"sent_at": 1.0}) is None
    assert probe._epoch(envelope["occurred_at"]) == 1767225600.0


def test_the_summary_takes_medians_per_broker() -> None:
    def run(broker: str, drain: float | None) -> dict[str, object]:
        return {"meta": {"broker": broker}, "figures": {"drain_deliveries_per_s": drain}}

    table = medians(
        [run("redis", 100.0), run("redis", 300.0), run("redis", 120.0), run("amqp", None)]
    )
    assert table["redis"]["drain_deliveries_per_s"] == 120.0
    assert table["amqp"]["drain_deliveries_per_s"] is None


def _window(offered: float, bounded: bool, sustained: float) -> Window:
    return Window(offered, 10.0, offered, 0, 5 * offered, 0.0, 0, sustained, bounded, "")


def test_the_search_drops_to_what_a_failed_window_sustained_then_climbs_until_bracketed() -> None:
    windows = [_window(40.0, False, 12.0)]
    assert next_rate(windows) == 10.0
    windows.append(_window(10.0, True, 10.0))
    assert next_rate(windows) == 15.0
    windows.append(_window(15.0, False, 13.0))
    assert next_rate(windows) is None


def test_the_search_climbs_after_a_pass_and_gives_up_below_the_lowest_rung() -> None:
    assert next_rate([_window(40.0, True, 40.0)]) == 60.0
    assert next_rate([_window(20.0, False, 1.0)]) is None


def test_a_delivery_published_twice_counts_once_from_its_first_start() -> None:
    def start(at: float, event: str, task: str = "handlers.x") -> ProbeRecord:
        return ProbeRecord("start", task, at, {"id": event})

    records = [start(3.0, "e1"), start(1.0, "e1"), start(2.0, "e1", "handlers.y"), start(4.0, "e2")]
    firsts = first_starts([*records, ProbeRecord("end", "handlers.x", 5.0, {})])
    assert sorted((r.fields["id"], r.task, r.at) for r in firsts) == [
        ("e1", "handlers.x", 1.0),
        ("e1", "handlers.y", 2.0),
        ("e2", "handlers.x", 4.0),
    ]


def _drain(variant: str, number: int, seconds: float, others_seconds: float = 0.0) -> Drain:
    return Drain(
        variant=variant,
        round=number,
        deliveries=1000,
        seconds=seconds,
        others=950,
        others_seconds=others_seconds or seconds,
        worker_cpu_seconds=seconds / 2,
        relay_cpu_seconds=1.0,
        posts=1000,
        out_of_order_keys=number if variant.endswith("unordered") else 0,
        load_average=1.0,
    )


def test_the_ordering_figures_are_medians_over_rounds_and_ratios_of_the_medians() -> None:
    drains = [
        _drain("unordered", 1, 4.0),
        _drain("ordered", 1, 5.0),
        _drain("retrying_unordered", 1, 9.0, others_seconds=3.8),
        _drain("retrying_ordered", 1, 9.5, others_seconds=4.75),
        _drain("unordered", 2, 5.0),
        _drain("ordered", 2, 4.0),
        _drain("unordered", 3, 2.0),
        _drain("ordered", 3, 10.0),
    ]
    out = figures(drains)
    assert out["ordering_unordered_per_s"] == 250.0
    assert out["ordering_ordered_per_s"] == 200.0
    assert out["ordering_ordered_over_unordered"] == 0.8
    assert out["ordering_retrying_unordered_others_per_s"] == 250.0
    assert out["ordering_retrying_ordered_others_per_s"] == 200.0
    assert out["ordering_retrying_ordered_over_unordered"] == 0.8
    assert out["ordering_unordered_out_of_order_keys"] == 3.0
    assert out["ordering_ordered_out_of_order_keys"] == 0.0
    assert out["ordering_ordered_worker_cpu_ms"] == 2.5
    assert out["ordering_cpu_unordered_over_ordered"] == 3.0 / 3.5
    assert out["ordering_retrying_unordered_out_of_order_keys"] == 1.0


def test_the_partner_times_each_event_s_first_acceptance_from_its_occurred_at() -> None:
    receiver = WebhookReceiver()
    receiver.start()
    try:
        before = datetime.now(UTC) - timedelta(seconds=60)
        recent = datetime.now(UTC) - timedelta(milliseconds=250)
        for event_id, occurred in (("old", before), ("new", recent), ("new", recent)):
            envelope = {
                "event_id": event_id,
                "aggregate_id": "a",
                "aggregate_version": 1,
                "occurred_at": occurred.isoformat(),
            }
            assert receiver._answer(json.dumps(envelope).encode()) == 200
        delays = receiver.receipt_delays_ms(since=recent.timestamp() - 1)
        assert len(delays) == 1, "an older event, and a repeat, are not counted"
        assert 250 <= delays[0] < 5_000
    finally:
        receiver.stop()


def test_orders_go_to_the_users_in_turn_and_a_bare_user_id_is_refused() -> None:
    commands = CreateAndPay(["u1", "u2"], [], "1.00")
    creates = [commands.next_request(tick)[1]["user_id"] for tick in range(0, 8, 2)]
    assert creates == ["u1", "u2", "u1", "u2"]
    with pytest.raises(TypeError, match="list of one or more"):
        CreateAndPay("u1", [], "1.00")
