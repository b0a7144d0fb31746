"""Keep the worker log readable: maintenance tasks run often; log them only when they work."""

import logging

MAINTENANCE_TASKS = frozenset({"outbox.relay", "outbox.purge_done"})
CELERY_TASK_LOGGERS = ("celery.worker.strategy", "celery.app.trace")


class DropMaintenanceChatter(logging.Filter):
    """Drops Celery's 'received' / 'succeeded' lines for maintenance tasks (not failures)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if not isinstance(args, dict) or args.get("name") not in MAINTENANCE_TASKS:
            return True
        return record.levelno > logging.INFO


def install() -> None:
    for name in CELERY_TASK_LOGGERS:
        logging.getLogger(name).addFilter(DropMaintenanceChatter())
