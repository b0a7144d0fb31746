"""Where a run's JSON goes, and reading runs back."""

import json
import re
from pathlib import Path
from typing import Any

NAME = re.compile(r"scale-(?P<broker>[a-z]+)-(?P<n>\d+)\.json")


def next_path(directory: Path, broker: str) -> Path:
    """``scale-<broker>-<n>.json`` in ``directory``, ``n`` one past the highest there."""
    taken = [
        int(found["n"])
        for found in map(NAME.fullmatch, (p.name for p in directory.glob("scale-*.json")))
        if found and found["broker"] == broker
    ]
    return directory / f"scale-{broker}-{max(taken, default=0) + 1}.json"


def load(paths: list[Path]) -> list[dict[str, Any]]:
    """The documents, each checked to be a scale-out run's."""
    documents = []
    for path in paths:
        document = json.loads(path.read_text())
        if not isinstance(document, dict) or "cells" not in document:
            raise ValueError(f"{path} is not a bench.scale result (no 'cells')")
        documents.append(document)
    return documents
