"""The wire contract's one rule, and the committed files that record what the code says.

The contract (``wire_contract.json``) and the event catalog built from it
(``docs/asyncapi.json``) are files in the repository, written by ``flask events schema
--write`` and ``flask events catalog --write`` and held against the code by tests.
"""

from dataclasses import dataclass
from pathlib import Path


class SchemaChanged(Exception):
    """An event's payload changed under a version that is already recorded: bump its
    ``schema_version`` and register an upcaster instead."""


@dataclass(frozen=True)
class CommittedCopy:
    """What the code implies for one committed file, and whether the file holds it."""

    path: Path
    text: str
    """The file as the code would write it now."""
    up_to_date: bool
