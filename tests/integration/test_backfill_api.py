"""``POST /api/handlers/<name>/backfill``: the CLI's backfill started over HTTP and run by the
``outbox.backfill`` task (inline here: eager), its run recorded with its progress.

Refusals: 422 for bad options, 404 for an unknown handler or run, 409 for a disabled
handler (saying why) or one whose run is queued or running, 503 when the broker does not
take the task, 401 without the admin token."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from kombu.exceptions import OperationalError

from app.infrastructure.persistence.backfill_runs import RunTakenOver
from app.infrastructure.persistence.tables import backfill_runs, events, outbox
from tests.fakes import FakeWebhooks
from tests.support.inprocess import Api, build_app, container

HANDLER = "forward_to_webhooks"
WEBHOOKS = {"WEBHOOK_URLS": "http://127.0.0.1:9/partner|partner-secret"}
ADMIN_TOKEN = "backfill-admin-token-0123456789abcdef"
PATH = f"/api/handlers/{HANDLER}/backfill"


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Any]:
    """Apps on one database: ``make(enabled=..., eager=..., **env)``."""
    apps: list[Flask] = []

    def _make(*, enabled: bool = True, eager: bool = True, **env: str) -> Flask:
        first = container(apps[0]).settings.database_url if apps else None
        app = build_app(
            tmp_path / f"app{len(apps)}",
            {**(WEBHOOKS if enabled else {}), **env},
            eager=eager,
            database_url=first,
            webhooks=FakeWebhooks(),
        )
        apps.append(app)
        return app

    yield _make
    for app in apps:
        container(app).engine.dispose()


def history_without_the_handler(make: Any, orders: int = 3) -> Flask:
    """Events recorded while the handler was disabled; returns an app that enables it."""
    api = Api(make(enabled=False).test_client())
    user = api.register()
    for _ in range(orders):
        api.pay(api.create_order(user["user_id"]))
    return make()


def handler_rows(app: Flask, handler: str = HANDLER) -> int:
    with container(app).engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count()).select_from(outbox).where(outbox.c.handler == handler)
            ).scalar_one()
        )


def event_count(app: Flask) -> int:
    with container(app).engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one())


def test_a_backfill_is_accepted_run_and_shown_on_the_handler(make: Any) -> None:
    app = history_without_the_handler(make)
    client = app.test_client()
    assert handler_rows(app) == 0
    stored = event_count(app)

    answer = client.post(PATH, json={"batch_size": 2})

    assert answer.status_code == 202, answer.get_data(as_text=True)
    run = answer.get_json()
    assert answer.headers["Location"] == f"/api/handlers/{HANDLER}/backfills/{run['id']}"
    assert (run["state"], run["error"], run["requested_by"]) == ("done", None, "api:anonymous")
    assert run["deliveries_added"] == run["events_scanned"] == run["events_total"] == stored
    assert run["start_position"] == 0 and run["position"] == run["head_position"] == stored
    assert run["started_at"] and run["finished_at"] and run["batch_size"] == 2
    assert handler_rows(app) == stored
    assert client.get(answer.headers["Location"]).get_json() == run
    assert client.get(f"/api/handlers/{HANDLER}").get_json()["last_backfill"] == run
    listed = {h["name"]: h for h in client.get("/api/handlers").get_json()["handlers"]}
    assert listed[HANDLER]["last_backfill"] == run
    assert listed["project_order_summary"]["last_backfill"] is None

    again = client.post(PATH).get_json()
    assert (again["state"], again["deliveries_added"], again["id"]) == ("done", 0, run["id"] + 1)


def test_the_options_choose_where_the_walk_starts(make: Any) -> None:
    app = history_without_the_handler(make, orders=2)
    client = app.test_client()
    stored = event_count(app)

    later = client.post(PATH, json={"from_position": stored - 1, "rate": 1000}).get_json()
    assert (later["start_position"], later["deliveries_added"]) == (stored - 2, 2)
    assert later["from_position"] == stored - 1 and later["rate"] == 1000
    recent = client.post(PATH, json={"since": "1h"}).get_json()
    assert (recent["start_position"], recent["deliveries_added"]) == (0, stored - 2)
    assert recent["since"] is not None
    future = client.post(PATH, json={"since": "2999-01-01T00:00:00Z"}).get_json()
    assert (future["start_position"], future["deliveries_added"]) == (stored, 0)


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"from_position": 1, "since": "2h"}, "since", "not both"),
        ({"from_position": 0}, "from_position", "greater than or equal to 1"),
        ({"from_position": "one"}, "from_position", "Not a valid integer"),
        ({"since": "yesterday"}, "since", ""),
        ({"since": 5}, "since", "ISO-8601"),
        ({"batch_size": 0}, "batch_size", "greater than or equal to 1"),
        ({"batch_size": 100_001}, "batch_size", "less than or equal to 100000"),
        ({"rate": 0.5}, "rate", "greater than or equal to 1"),
        ({"rate": "fast"}, "rate", "Not a valid number"),
        ({"dry_run": True}, "dry_run", "Unknown field"),
    ],
)
def test_bad_options_are_422_naming_the_field(
    make: Any, body: dict[str, Any], field: str, message: str
) -> None:
    app = make()
    answer = app.test_client().post(PATH, json=body)

    assert answer.status_code == 422, answer.get_data(as_text=True)
    problems = answer.get_json()["fields"][field]
    assert any(message in problem for problem in problems), problems
    assert _runs(app) == 0


def test_a_body_that_is_not_json_is_refused(make: Any) -> None:
    client = make().test_client()
    assert client.post(PATH, data="{", content_type="application/json").status_code == 400
    assert client.post(PATH, data="x=1", content_type="text/plain").status_code == 415


def test_unknown_handlers_and_runs_are_404(make: Any) -> None:
    client = make().test_client()
    refused = client.post("/api/handlers/forward_to_webhook/backfill")
    assert refused.status_code == 404
    assert "no handler is named 'forward_to_webhook'" in refused.get_json()["message"]
    run = client.post(PATH).get_json()
    assert (
        client.get(f"/api/handlers/project_order_summary/backfills/{run['id']}").status_code == 404
    )
    assert client.get(f"/api/handlers/{HANDLER}/backfills/{run['id'] + 1}").status_code == 404
    assert client.get(f"/api/handlers/{HANDLER}/backfills/{2**70}").status_code == 404


def test_a_disabled_handler_is_409_saying_why(make: Any) -> None:
    app = make(enabled=False)
    answer = app.test_client().post(PATH)

    assert answer.status_code == 409
    assert answer.get_json()["error"] == "conflict"
    assert "WEBHOOK_URLS is not set" in answer.get_json()["message"]
    assert _runs(app) == 0


def test_a_second_start_while_one_is_queued_is_409(make: Any) -> None:
    app = make(eager=False)  # the task waits on the in-memory broker: the run stays queued
    client = app.test_client()
    first = client.post(PATH)
    assert first.status_code == 202 and first.get_json()["state"] == "queued"

    second = client.post(PATH, json={"batch_size": 10})

    assert second.status_code == 409
    assert (
        f"backfill {first.get_json()['id']} of {HANDLER} is queued" in second.get_json()["message"]
    )
    assert client.post("/api/handlers/project_order_summary/backfill").status_code == 202
    assert _runs(app) == 2


def test_a_run_abandoned_past_the_task_limit_gives_way(make: Any) -> None:
    app = make(eager=False)
    client = app.test_client()
    stale = client.post(PATH).get_json()
    long_ago = datetime.now(UTC) - timedelta(hours=2)
    with container(app).engine.begin() as conn:
        conn.execute(backfill_runs.update().values(updated_at=long_ago))

    fresh = client.post(PATH)

    assert fresh.status_code == 202
    abandoned = client.get(f"/api/handlers/{HANDLER}/backfills/{stale['id']}").get_json()
    assert abandoned["state"] == "failed" and abandoned["error"].startswith("abandoned")


def test_a_task_the_broker_refuses_is_503_and_fails_the_run(
    make: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make(eager=False)

    def refuse(*_: Any, **__: Any) -> None:
        raise OperationalError("broker unreachable")

    monkeypatch.setattr(container(app).celery, "send_task", refuse)
    answer = app.test_client().post(PATH)

    assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
    assert "could not send its task: broker unreachable" in answer.get_json()["message"]
    run = container(app).backfills.runs.get(1)
    assert run is not None and run["state"] == "failed"
    assert app.test_client().post(PATH).status_code == 503, "a failed run blocks nothing"


def test_the_endpoint_needs_the_admin_token(make: Any) -> None:
    client = make(ADMIN_TOKEN=ADMIN_TOKEN).test_client()
    assert client.post(PATH).status_code == 401
    answered = client.post(PATH, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert answered.status_code == 202
    assert answered.get_json()["requested_by"].startswith("api:token:")
    assert client.get(answered.headers["Location"]).status_code == 401


def test_a_worker_without_the_setting_fails_the_run_saying_why(make: Any) -> None:
    web = make(eager=False)
    run = web.test_client().post(PATH).get_json()
    worker = make(enabled=False)

    with worker.app_context():
        finished = container(worker).backfills.execute(run["id"])

    assert finished is not None and finished["state"] == "failed"
    assert "not enabled on the worker: WEBHOOK_URLS is not set" in finished["error"]
    assert container(worker).backfills.execute(run["id"]) is None, "a finished run is left"


def test_a_run_taken_over_stops_the_task_that_held_it(make: Any) -> None:
    app = make(eager=False)
    run = app.test_client().post(PATH).get_json()
    runs = container(app).backfills.runs
    first = runs.claim(run["id"])
    second = runs.claim(run["id"])
    assert first is not None and second is not None

    with pytest.raises(RunTakenOver):
        runs.plan(run["id"], first[1], start_position=0, total=0)
    runs.plan(run["id"], second[1], start_position=0, total=0)
    runs.fail(run["id"], first[1], "too late")
    current = runs.get(run["id"])
    assert current is not None and current["state"] == "running"


def test_progress_is_written_after_every_batch(make: Any) -> None:
    app = history_without_the_handler(make, orders=2)
    runs = container(app).backfills.runs
    seen: list[tuple[int, int]] = []
    progress = runs.progress

    def recording(run_id: int, owner: str, report: Any, *, position: int, head: int) -> None:
        progress(run_id, owner, report, position=position, head=head)
        current = runs.get(run_id)
        assert current is not None and current["state"] == "running"
        seen.append((current["events_scanned"], current["position"]))

    runs.progress = recording  # type: ignore[method-assign]
    run = app.test_client().post(PATH, json={"batch_size": 1}).get_json()

    stored = event_count(app)
    assert run["state"] == "done"
    assert [scanned for scanned, _ in seen][:stored] == list(range(1, stored + 1))
    assert [position for _, position in seen][:stored] == list(range(1, stored + 1))


def _runs(app: Flask) -> int:
    with container(app).engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(backfill_runs)).scalar_one())
