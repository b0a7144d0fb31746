"""``docs/asyncapi.json`` is the catalog the code generates, and the catalog keeps the wire
contract's rule: a payload changed under a recorded schema version is refused.

If a test here fails, you changed an event, a handler or a subscription: run
``flask --app app events schema --write``, which rewrites the wire contract and this catalog
(``events catalog --write`` rewrites the catalog alone), and commit both files, so the
change shows in review. The rule itself lives in ``schema_snapshot.merged``; these tests
only check that the catalog goes through it.
"""

from typing import Any

import pytest

from app.application.wire_contract import SchemaChanged
from app.infrastructure.messaging import asyncapi, schema_snapshot

REWRITE = "run `flask --app app events catalog --write` and commit docs/asyncapi.json"


def test_the_committed_catalog_is_the_generated_one() -> None:
    committed = asyncapi.committed()
    assert committed is not None, f"{asyncapi.CATALOG_PATH} is missing: {REWRITE}"
    assert committed == asyncapi.current(), f"{asyncapi.CATALOG_PATH} is out of date: {REWRITE}"
    assert asyncapi.CATALOG_PATH.read_text() == asyncapi.dump(committed), REWRITE


def test_a_payload_changed_without_a_version_bump_is_not_catalogued(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As if ``order.shipped`` had gained a field under v1: the contract (as recorded) and
    the code disagree, and the catalog refuses to describe either."""
    recorded = schema_snapshot.load()

    def tampered() -> dict[str, Any]:
        events = {t: dict(v) for t, v in recorded["events"].items()}
        events["order.shipped"]["1"] = {"user_id": "string", "carrier": "string"}
        return {**recorded, "events": events}

    monkeypatch.setattr(schema_snapshot, "load", tampered)
    with pytest.raises(SchemaChanged, match=r"order.shipped v1 payload changed"):
        asyncapi.current()
