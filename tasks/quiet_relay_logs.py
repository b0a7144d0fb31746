"""Keep the worker log readable: the relay runs every second; log it only when it works."""

import logging

RELAY_TASK = "outbox.relay"
CELERY_TASK_LOGGERS = ("celery.worker.strategy", "celery.app.trace")


class DropRelayChatter(logging.Filter):
    """Drops Celery's 'received' / 'succeeded' lines for the relay task (not its failures)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if not isinstance(args, dict) or args.get("name") != RELAY_TASK:
            return True
        return record.levelno > logging.INFO


def install() -> None:
    for name in CELERY_TASK_LOGGERS:
        logging.getLogger(name).addFilter(DropRelayChatter())
