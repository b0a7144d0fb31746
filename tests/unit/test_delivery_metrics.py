"""The task layer's metric helpers: outcome labels, the commit lag, the exporter's guards."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.application.deliveries import DeadLettered, Done, RetryLater
from app.infrastructure.metrics import multiprocess
from tasks import metrics


def _lag_count(handler: str) -> float:
    for family in metrics.COMMIT_TO_HANDLER.collect():
        for sample in family.samples:
            if sample.name.endswith("_count") and sample.labels["handler"] == handler:
                return sample.value
    return 0.0


def test_outcomes_map_to_the_three_labels() -> None:
    assert metrics.outcome_label(Done(applied=True)) == "done"
    assert metrics.outcome_label(Done(applied=False)) == "done"
    assert metrics.outcome_label(RetryLater(3, RuntimeError("x"))) == "retried"
    assert metrics.outcome_label(DeadLettered("x")) == "dead"


def test_the_commit_lag_is_observed_from_occurred_at() -> None:
    handler = "unit_lag_handler"
    occurred = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
    metrics.observe_handler_start(handler, {"occurred_at": occurred})
    assert _lag_count(handler) == 1
    [family] = metrics.COMMIT_TO_HANDLER.collect()
    total = next(
        s.value
        for s in family.samples
        if s.name.endswith("_sum") and s.labels["handler"] == handler
    )
    assert total >= 5


@pytest.mark.parametrize(
    "envelope", [None, "text", {}, {"occurred_at": 12}, {"occurred_at": "yesterday"}]
)
def test_a_malformed_envelope_records_no_lag(envelope: object) -> None:
    handler = "unit_malformed_handler"
    metrics.observe_handler_start(handler, envelope)
    assert _lag_count(handler) == 0


@pytest.mark.parametrize("value", ["9808", "host:", ":9808", "127.0.0.1:99999", "h:x"])
def test_a_bad_listen_address_names_the_setting(value: str) -> None:
    with pytest.raises(ValueError, match="WORKER_METRICS_LISTEN"):
        multiprocess.parse_listen(value)


def test_listen_address_parses() -> None:
    assert multiprocess.parse_listen("0.0.0.0:9808") == ("0.0.0.0", 9808)


def test_the_exporter_refuses_to_start_without_a_multiprocess_directory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(multiprocess.ENV_VAR, raising=False)
    with pytest.raises(RuntimeError, match="PROMETHEUS_MULTIPROC_DIR is not"):
        multiprocess.serve("127.0.0.1:9808")


def test_reset_directory_empties_what_a_previous_run_left(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "counter_1.db").write_bytes(b"old")
    monkeypatch.setenv(multiprocess.ENV_VAR, str(directory))
    multiprocess.reset_directory()
    assert directory.is_dir() and not any(directory.iterdir())
