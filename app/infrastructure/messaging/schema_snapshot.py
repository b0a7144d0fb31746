"""The committed snapshot of every (event type, schema version)'s payload schema.

Entries are only ever added: a version's schema is what its stored events contain, for
as long as they are stored. Changing an event's fields therefore needs a new
``schema_version`` and an upcaster from the previous one; ``merged`` refuses otherwise.
"""

import json
from pathlib import Path
from typing import Any

from app.domain.events import EVENT_CLASSES
from app.domain.events.schema import payload_schema

SNAPSHOT_PATH = Path(__file__).with_name("payload_schemas.json")

Snapshot = dict[str, dict[str, Any]]
"""event type -> str(schema version) -> payload schema."""


class SchemaChanged(Exception):
    """An event's payload changed under a version that is already snapshotted."""


def current_schemas() -> Snapshot:
    return {
        event_type: {str(cls.schema_version): payload_schema(cls)}
        for event_type, cls in sorted(EVENT_CLASSES.items())
    }


def load(path: Path = SNAPSHOT_PATH) -> Snapshot:
    if not path.exists():
        return {}
    loaded: Snapshot = json.loads(path.read_text())
    return loaded


def dump(snapshot: Snapshot) -> str:
    ordered = {
        event_type: dict(sorted(versions.items(), key=lambda item: int(item[0])))
        for event_type, versions in sorted(snapshot.items())
    }
    return json.dumps(ordered, indent=2, sort_keys=False) + "\n"


def merged(snapshot: Snapshot) -> Snapshot:
    """The snapshot plus the code's current versions; SchemaChanged if one was rewritten."""
    result = {event_type: dict(versions) for event_type, versions in snapshot.items()}
    for event_type, versions in current_schemas().items():
        for version, schema in versions.items():
            known = result.setdefault(event_type, {}).get(version)
            if known is not None and known != schema:
                raise SchemaChanged(
                    f"{event_type} v{version} payload changed from {known} to {schema}: "
                    f"bump its schema_version and register an upcaster from v{version}"
                )
            result[event_type][version] = schema
    return result
