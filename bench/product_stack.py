"""The product, started as a user would: migrated database, web, beat, the relay when the
Procfile runs one, and (when asked) the worker through ``bench.probe_worker``."""

import uuid
from collections.abc import Mapping
from pathlib import Path

from bench import load, probe
from bench.processes import Launched, ProcessFailed
from bench.progress import Progress
from bench.rig import Rig, procfile_worker_queues, wait_ready


class ProductStack:
    def __init__(self, rig: Rig, progress: Progress) -> None:
        self.rig = rig
        self.progress = progress
        self.web: Launched | None = None
        self.port = 0
        self.beat: Launched | None = None
        self.relay: Launched | None = None
        self.worker: Launched | None = None
        self.probe_dir: Path | None = None
        self.worker_ready: probe.ProbeRecord | None = None

    def migrate(self) -> None:
        self.progress.say("outboxflow: flask --app app db upgrade")
        self.rig.flask("db", "upgrade")

    def start_web_and_beat(self) -> None:
        self.migrate()
        self.progress.say("outboxflow: starting gunicorn 'app:create_app()' -w 2 and celery beat")
        self.web, self.port = self.rig.start_gunicorn("web", "app:create_app()")
        self.beat = self.rig.start_beat()
        self.relay = self.rig.start_relay()
        if self.relay is not None:
            self.progress.say("outboxflow: started the Procfile's relay")

    def restart_web(self, settings: Mapping[str, str]) -> None:
        """The web again, with ``settings`` beside the defaults (a new port)."""
        if self.web is not None:
            self.rig.processes.stop(self.web)
        self.web, self.port = self.rig.start_gunicorn("web", "app:create_app()", settings)

    def start_worker(self, settings: Mapping[str, str] | None = None) -> probe.ProbeRecord:
        self.progress.say("outboxflow: starting the worker (prefork, concurrency 2)")
        self.worker, self.probe_dir = self.rig.start_worker(
            "worker", "bench.probe_worker", procfile_worker_queues(), settings
        )
        self.worker_ready = wait_ready(self.worker, self.probe_dir)
        return self.worker_ready

    def start_relay(self) -> None:
        """The Procfile's relay again (after ``stop_all_but_web``), when it runs one."""
        self.relay = self.rig.start_relay()

    def stop_all_but_web(self) -> None:
        for launched in (self.worker, self.beat, self.relay):
            if launched is not None:
                self.rig.processes.stop(launched)
        self.worker = self.beat = self.relay = None

    def register_user(self) -> str:
        client = load.Client(self.port)
        body = {"email": f"bench-{uuid.uuid4().hex[:8]}@example.com", "name": "Bench User"}
        answer = client.post("/api/users", body)
        client.close()
        if answer.status != 201:
            raise ProcessFailed(f"POST /api/users answered {answer.status}: {answer.body}")
        return str(answer.body["user_id"])

    def cpu(self, which: str) -> float:
        launched = {
            "web": self.web,
            "worker": self.worker,
            "beat": self.beat,
            "relay": self.relay,
        }[which]
        return 0.0 if launched is None else launched.cpu_seconds()

    def records(self) -> list[probe.ProbeRecord]:
        assert self.probe_dir is not None
        return list(probe.read_records(self.probe_dir))

    def check_alive(self) -> None:
        for launched in (self.web, self.worker, self.beat, self.relay):
            if launched is not None:
                launched.check_alive()


def deliveries(records: list[probe.ProbeRecord], since: float = 0.0) -> list[probe.ProbeRecord]:
    """Start and end records of delivery tasks (tasks whose arguments carry an envelope)."""
    names = {r.task for r in records if r.kind == "start" and "id" in r.fields}
    return [r for r in records if r.task in names and r.kind in ("start", "end") and r.at >= since]


def first_starts(records: list[probe.ProbeRecord]) -> list[probe.ProbeRecord]:
    """The first start of each delivery, by (event id, task name).

    A delivery the product publishes again (a relay re-publish, a redelivery) starts again
    as a second task; it is still one delivery, so it counts once and keeps its first start.
    """
    first: dict[tuple[object, str | None], probe.ProbeRecord] = {}
    for record in sorted(records, key=lambda r: r.at):
        if record.kind == "start" and "id" in record.fields:
            first.setdefault((record.fields["id"], record.task), record)
    return list(first.values())
