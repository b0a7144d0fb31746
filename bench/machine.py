"""What the run ran on: cores, CPU model, memory, and the servers' versions."""

import os
import platform
from importlib.metadata import version
from typing import Any

import psutil
import psycopg
import redis
from kombu.connection import Connection

from bench.namespace import POSTGRES_ADMIN_DSN, REDIS_URL, Namespace


def describe(namespace: Namespace) -> dict[str, Any]:
    info: dict[str, Any] = {
        "cores": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "celery": version("celery"),
        "kombu": version("kombu"),
    }
    with psycopg.connect(POSTGRES_ADMIN_DSN, connect_timeout=5) as conn:
        row = conn.execute("SHOW server_version").fetchone()
        info["postgresql"] = row[0] if row else "?"
    if namespace.broker == "redis":
        with redis.Redis.from_url(REDIS_URL, socket_timeout=5) as client:
            info["redis"] = client.info("server").get("redis_version")
    else:
        with Connection(namespace.broker_url) as conn:
            conn.ensure_connection(max_retries=1)
            props = conn.connection.server_properties
            raw = props.get("version", "?")
            info["rabbitmq"] = raw.decode() if isinstance(raw, bytes) else str(raw)
    return info


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
