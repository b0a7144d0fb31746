"""Wire names are a contract: renaming one orphans queued tasks and stored events.

The names live in one generated file, ``app/infrastructure/messaging/wire_contract.json``.
If a test here fails you added, renamed or removed a task, handler, queue, subscription or
event type: keep the old name (or add an upcaster), run ``flask --app app events schema
--write`` and commit the file, so the change is seen in review.
"""

from celery import Celery

from app.application.event_handlers.registry import HANDLERS, HANDLERS_BY_NAME
from app.domain.events import EVENT_CLASSES
from app.infrastructure.messaging import schema_snapshot
from tasks.registration import register_tasks

SNAPSHOT = schema_snapshot.load()
REWRITE = "out of date: run `flask --app app events schema --write` and commit the file"

MAINTENANCE_TASKS = {
    "outbox.backfill": "outbox",
    "outbox.purge_done": "outbox",
    "outbox.relay": "outbox",
}
"""Not per handler, so not generated: written out here."""


def _celery_with_tasks() -> Celery:
    celery = Celery("snapshot", set_as_current=False)
    register_tasks(celery)
    return celery


def _registered(celery: Celery) -> dict[str, str | None]:
    return {
        name: task.queue for name, task in celery.tasks.items() if not name.startswith("celery.")
    }


def test_the_snapshot_is_what_the_code_defines() -> None:
    assert schema_snapshot.merged(SNAPSHOT) == SNAPSHOT, (
        f"{schema_snapshot.SNAPSHOT_PATH} is {REWRITE}"
    )


def test_task_names_and_queues() -> None:
    expected = {**SNAPSHOT["handler_tasks"], **MAINTENANCE_TASKS}
    assert _registered(_celery_with_tasks()) == expected, f"task names: {REWRITE}"


def test_every_handler_has_its_task_and_a_name_of_its_own() -> None:
    assert len(HANDLERS_BY_NAME) == len(HANDLERS), "two handlers share a name"
    assert {spec.task_name for spec in HANDLERS} == set(SNAPSHOT["handler_tasks"])


def test_event_types() -> None:
    assert set(EVENT_CLASSES) == set(SNAPSHOT["events"]), f"event types: {REWRITE}"
    assert all(cls.event_type == name for name, cls in EVENT_CLASSES.items())


def test_subscriptions() -> None:
    actual = {
        event_type: sorted(spec.name for spec in HANDLERS if event_type in spec.event_types)
        for event_type in EVENT_CLASSES
    }
    assert actual == SNAPSHOT["subscriptions"], f"subscriptions: {REWRITE}"


def test_register_tasks_twice_is_harmless() -> None:
    celery = _celery_with_tasks()
    register_tasks(celery)
    assert _registered(celery) == {**SNAPSHOT["handler_tasks"], **MAINTENANCE_TASKS}
