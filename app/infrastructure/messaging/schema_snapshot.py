"""The committed snapshot of every wire name: event types with each schema version's payload
fields, handler task names with their queues, and which handlers each event type reaches.

``flask --app app events schema --write`` writes it; the unit tests compare the code with it,
so a name that appears, changes or disappears fails them until the file is rewritten and
the change shows in review. Event versions are only ever added: a version's schema is what
its stored events contain, for as long as they are stored. Changing an event's fields
therefore needs a new ``schema_version`` and an upcaster from the previous one; ``merged``
refuses otherwise. Task names and subscriptions are simply the code's current ones.
"""

import json
from pathlib import Path
from typing import Any

from app.application.event_handlers.registry import HANDLERS, subscribers
from app.application.wire_contract import SchemaChanged
from app.domain.events import EVENT_CLASSES
from app.domain.events.schema import payload_schema

SNAPSHOT_PATH = Path(__file__).with_name("wire_contract.json")

Snapshot = dict[str, Any]
"""``events``: event type -> str(schema version) -> payload schema;
``handler_tasks``: task name -> queue; ``subscriptions``: event type -> handler names."""


def current() -> Snapshot:
    """What the code defines now (only each event type's current version)."""
    return {
        "events": {
            event_type: {str(cls.schema_version): payload_schema(cls)}
            for event_type, cls in EVENT_CLASSES.items()
        },
        "handler_tasks": {spec.task_name: spec.queue for spec in HANDLERS},
        "subscriptions": {
            event_type: sorted(subscribers(event_type)) for event_type in EVENT_CLASSES
        },
    }


def load(path: Path = SNAPSHOT_PATH) -> Snapshot:
    if not path.exists():
        return {"events": {}, "handler_tasks": {}, "subscriptions": {}}
    loaded: Snapshot = json.loads(path.read_text())
    return loaded


def dump(snapshot: Snapshot) -> str:
    ordered = {
        "events": {
            event_type: dict(sorted(versions.items(), key=lambda item: int(item[0])))
            for event_type, versions in sorted(snapshot["events"].items())
        },
        "handler_tasks": dict(sorted(snapshot["handler_tasks"].items())),
        "subscriptions": dict(sorted(snapshot["subscriptions"].items())),
    }
    return json.dumps(ordered, indent=2, sort_keys=False) + "\n"


def merged(snapshot: Snapshot) -> Snapshot:
    """The snapshot plus the code's current versions and names; SchemaChanged if an
    already-recorded event version was rewritten."""
    now = current()
    events = {event_type: dict(versions) for event_type, versions in snapshot["events"].items()}
    for event_type, versions in now["events"].items():
        for version, schema in versions.items():
            known = events.setdefault(event_type, {}).get(version)
            if known is not None and known != schema:
                raise SchemaChanged(
                    f"{event_type} v{version} payload changed from {known} to {schema}: "
                    f"bump its schema_version and register an upcaster from v{version}"
                )
            events[event_type][version] = schema
    return {**now, "events": events}
