"""The event catalog and the wire contract as the entry points use them: the catalog served
over HTTP (as JSON and as a page), and the committed files the ``flask events`` commands
check and write."""

import functools
from pathlib import Path

from app.application.wire_contract import CommittedCopy
from app.infrastructure.messaging import asyncapi, schema_snapshot
from app.infrastructure.messaging.catalog_page import Catalog, catalog


class EventCatalog:
    """Every method that builds from the code raises ``SchemaChanged`` where the wire
    contract refuses it (a payload changed under a recorded version)."""

    def served_json(self) -> str:
        """``/api/asyncapi.json``: the catalog of the code, built once per process."""
        return asyncapi.current_json()

    def page(self) -> Catalog:
        """``/api/asyncapi``: the served document as a page, built once per process."""
        return _page()

    def contract(self) -> CommittedCopy:
        """The committed wire contract plus the code's current versions and names."""
        committed = schema_snapshot.load()
        wanted = schema_snapshot.merged(committed)
        return CommittedCopy(
            schema_snapshot.SNAPSHOT_PATH, schema_snapshot.dump(wanted), wanted == committed
        )

    def write_contract(self) -> list[Path]:
        """Write the contract with the code's current versions added, and the catalog built
        from it; returns the files written."""
        wanted = schema_snapshot.merged(schema_snapshot.load())
        schema_snapshot.SNAPSHOT_PATH.write_text(schema_snapshot.dump(wanted))
        asyncapi.CATALOG_PATH.write_text(asyncapi.dump(asyncapi.build(wanted)))
        return [schema_snapshot.SNAPSHOT_PATH, asyncapi.CATALOG_PATH]

    def catalog(self) -> CommittedCopy:
        """The catalog the code and the committed contract imply, against its copy."""
        wanted = asyncapi.current()
        return CommittedCopy(
            asyncapi.CATALOG_PATH, asyncapi.dump(wanted), asyncapi.committed() == wanted
        )

    def write_catalog(self) -> Path:
        """Write the catalog's committed copy (check ``contract()`` first: a catalog built
        over a stale contract names versions the contract lacks)."""
        asyncapi.CATALOG_PATH.write_text(asyncapi.dump(asyncapi.current()))
        return asyncapi.CATALOG_PATH


@functools.cache
def _page() -> Catalog:
    return catalog(asyncapi.current())
