"""Starts the processes of a run, configured only through environment variables.

Product processes run exactly as a user would start them (``flask --app app db upgrade``,
``gunicorn 'app:create_app()' -w 2``, ``celery -A tasks beat``), except that the worker is
``celery -A bench.probe_worker worker`` (the product's worker plus the probe), on the queues
the Procfile's worker line lists.
"""

import os
import re
import shlex
import sys
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path

from app.config import Settings
from bench import lean_task, probe, sql_count
from bench.namespace import HOST, Namespace, free_port
from bench.processes import Launched, ProcessFailed, ProcessSet, run_to_end

PROJECT_DIR = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SETTING_NAMES = frozenset(f.name.upper() for f in fields(Settings))
NOT_SETTINGS = frozenset({"PROMETHEUS_MULTIPROC_DIR"})
"""Read by libraries, not by Settings, yet they change how the product runs: left unset."""
WEB_WORKERS = 2
WORKER_CONCURRENCY = 2


def procfile_command(name: str, procfile: Path = PROJECT_DIR / "Procfile") -> str | None:
    """The command of the Procfile's ``name:`` line; None when it has no such line."""
    for line in procfile.read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    return None


def procfile_worker_queues(procfile: Path = PROJECT_DIR / "Procfile") -> str:
    """The ``--queues`` value of the Procfile's worker line (what ``make run`` consumes)."""
    found = re.search(r"--queues[ =](\S+)", procfile_command("worker", procfile) or "")
    if found:
        return found.group(1)
    raise ValueError(f"no worker line with --queues in {procfile}")


class Rig:
    def __init__(self, namespace: Namespace, work_dir: Path) -> None:
        self.namespace = namespace
        self.work_dir = work_dir
        self.instance_dir = work_dir / "instance"
        self.instance_dir.mkdir(parents=True, exist_ok=True)
        self.processes = ProcessSet(work_dir, PROJECT_DIR)

    def base_env(self) -> dict[str, str]:
        """This environment minus any outboxflow setting, plus the run's namespace: the product
        runs on its defaults (no metrics exporter either)."""
        env = {k: v for k, v in os.environ.items() if k not in SETTING_NAMES | NOT_SETTINGS}
        env.update(self.namespace.broker_env())
        env["DATABASE_URL"] = self.namespace.database_url
        env["INSTANCE_DIR"] = str(self.instance_dir)
        env["BENCH_DATABASE_URL"] = self.namespace.database_url
        env[lean_task.DSN_ENV] = self.namespace.psycopg_dsn
        env["PYTHONUNBUFFERED"] = "1"
        env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
        return env

    def flask(self, *args: str, timeout: float = 300.0) -> tuple[float, str]:
        return run_to_end(
            [str(BIN / "flask"), "--app", "app", *args], self.base_env(), PROJECT_DIR, timeout
        )

    def start_gunicorn(
        self, name: str, target: str, settings: Mapping[str, str] | None = None
    ) -> tuple[Launched, int]:
        """``settings``: outboxflow settings the web gets beside the defaults."""
        port = free_port()
        argv = [
            str(BIN / "gunicorn"),
            target,
            "--workers",
            str(WEB_WORKERS),
            "--bind",
            f"{HOST}:{port}",
            "--log-level",
            "warning",
        ]
        web = self.processes.start(name, argv, {**self.base_env(), **(settings or {})})
        _wait_http(web, port)
        return web, port

    def start_worker(
        self,
        name: str,
        app_module: str,
        queues: str,
        settings: Mapping[str, str] | None = None,
        concurrency: int = WORKER_CONCURRENCY,
    ) -> tuple[Launched, Path]:
        """A prefork worker whose probe writes to a fresh directory; returns once started
        (``wait_ready`` waits for it to consume).

        ``settings``: outboxflow settings or bench variables this worker gets beside the
        defaults (the ordering phase's ``WEBHOOK_URLS``)."""
        probe_dir = self.work_dir / f"probe-{name}-{time.time_ns()}"
        probe_dir.mkdir()
        env = {**self.base_env(), **(settings or {}), probe.PROBE_DIR_ENV: str(probe_dir)}
        argv = [
            str(BIN / "celery"),
            "-A",
            app_module,
            "worker",
            "--pool",
            "prefork",
            "--concurrency",
            str(concurrency),
            "--queues",
            queues,
            "--hostname",
            f"{name}-{self.namespace.name}@%h",
            "--loglevel",
            "INFO",
        ]
        worker = self.processes.start(name, argv, env)
        return worker, probe_dir

    def start_relay(
        self, name: str = "relay", sql_count_dir: Path | None = None
    ) -> Launched | None:
        """The Procfile's ``relay:`` process as written there; None when it runs none (the
        product then publishes at commit, or beat's sweep does).

        With ``sql_count_dir`` the same command line runs through ``bench.sql_count``,
        which counts its SQL round trips into that directory."""
        command = procfile_command("relay")
        if command is None:
            return None
        argv = shlex.split(command)
        program = BIN / argv[0]
        if not program.exists():
            raise ProcessFailed(f"the Procfile's relay line does not start a program: {command}")
        env = self.base_env()
        launch = [str(program), *argv[1:]]
        if sql_count_dir is not None:
            env[sql_count.COUNT_DIR_ENV] = str(sql_count_dir)
            launch = [sys.executable, "-m", "bench.sql_count", *launch]
        return self.processes.start(name, launch, env)

    def start_beat(self) -> Launched:
        argv = [str(BIN / "celery"), "-A", "tasks", "beat", "--loglevel", "WARNING"]
        return self.processes.start("beat", argv, self.base_env())


def wait_ready(worker: Launched, probe_dir: Path, timeout: float = 60.0) -> probe.ProbeRecord:
    """The worker's ``ready`` probe record, once it has written one."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        worker.check_alive()
        for record in probe.read_records(probe_dir):
            if record.kind == "ready":
                return record
        time.sleep(0.05)
    raise ProcessFailed(f"{worker.name} was not ready within {timeout:.0f}s:\n{worker.tail()}")


def _wait_http(web: Launched, port: int, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        web.check_alive()
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise ProcessFailed(f"{web.name} did not answer /healthz within {timeout:.0f}s:\n{web.tail()}")
