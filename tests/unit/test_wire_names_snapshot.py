"""Wire names are a contract: renaming one orphans queued tasks and stored events.

These literals are deliberately written out. If a test here fails, you renamed or added
a task, handler or event: add an upcaster or keep the old name, then update the snapshot.
"""

from celery import Celery

from app.application.event_handlers.registry import HANDLERS
from app.domain.events import EVENT_CLASSES
from tasks.registration import register_tasks

TASK_NAMES = [
    "handlers.award_loyalty_points",
    "handlers.forward_to_webhooks",
    "handlers.notify_sales_channel",
    "handlers.project_order_summary",
    "handlers.project_user_profile",
    "handlers.revoke_loyalty_points",
    "handlers.send_cancellation_notice",
    "handlers.send_order_confirmation",
    "handlers.send_payment_receipt",
    "handlers.send_shipping_notice",
    "handlers.send_welcome_email",
    "outbox.purge_done",
    "outbox.relay",
]

EVENT_TYPES = {
    ("order.cancelled", 1),
    ("order.created", 2),
    ("order.payment_processed", 1),
    ("order.shipped", 1),
    ("user.loyalty_points_awarded", 1),
    ("user.loyalty_points_revoked", 1),
    ("user.registered", 2),
}

SUBSCRIPTIONS = {
    "order.cancelled": [
        "forward_to_webhooks",
        "project_order_summary",
        "revoke_loyalty_points",
        "send_cancellation_notice",
    ],
    "order.created": [
        "forward_to_webhooks",
        "notify_sales_channel",
        "project_order_summary",
        "send_order_confirmation",
    ],
    "order.payment_processed": [
        "award_loyalty_points",
        "forward_to_webhooks",
        "project_order_summary",
        "send_payment_receipt",
    ],
    "order.shipped": ["forward_to_webhooks", "project_order_summary", "send_shipping_notice"],
    "user.loyalty_points_awarded": ["forward_to_webhooks", "project_user_profile"],
    "user.loyalty_points_revoked": ["forward_to_webhooks", "project_user_profile"],
    "user.registered": ["forward_to_webhooks", "project_user_profile", "send_welcome_email"],
}

TASK_QUEUES = {
    "handlers.award_loyalty_points": "reactions",
    "handlers.forward_to_webhooks": "integrations",
    "handlers.notify_sales_channel": "notifications",
    "handlers.project_order_summary": "projections",
    "handlers.project_user_profile": "projections",
    "handlers.revoke_loyalty_points": "reactions",
    "handlers.send_cancellation_notice": "notifications",
    "handlers.send_order_confirmation": "notifications",
    "handlers.send_payment_receipt": "notifications",
    "handlers.send_shipping_notice": "notifications",
    "handlers.send_welcome_email": "notifications",
    "outbox.purge_done": "outbox",
    "outbox.relay": "outbox",
}


def _celery_with_tasks() -> Celery:
    celery = Celery("snapshot", set_as_current=False)
    register_tasks(celery)
    return celery


def test_task_names() -> None:
    celery = _celery_with_tasks()
    names = sorted(name for name in celery.tasks if not name.startswith("celery."))
    assert names == TASK_NAMES


def test_every_handler_has_its_task() -> None:
    assert {spec.task_name for spec in HANDLERS} == {
        name for name in TASK_NAMES if name.startswith("handlers.")
    }


def test_task_queues() -> None:
    celery = _celery_with_tasks()
    assert {name: celery.tasks[name].queue for name in TASK_NAMES} == TASK_QUEUES


def test_event_types_and_schema_versions() -> None:
    assert {(name, cls.schema_version) for name, cls in EVENT_CLASSES.items()} == EVENT_TYPES
    assert all(cls.event_type == name for name, cls in EVENT_CLASSES.items())


def test_subscriptions() -> None:
    actual = {
        event_type: sorted(spec.name for spec in HANDLERS if event_type in spec.event_types)
        for event_type in EVENT_CLASSES
    }
    assert actual == SUBSCRIPTIONS


def test_register_tasks_twice_is_harmless() -> None:
    celery = _celery_with_tasks()
    register_tasks(celery)
    assert sorted(n for n in celery.tasks if not n.startswith("celery.")) == TASK_NAMES
