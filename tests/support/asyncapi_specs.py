"""The official AsyncAPI 3.0.0 JSON Schema, from the ``@asyncapi/specs`` npm package.

``make venv`` / ``make test`` install it with ``npm ci`` from the project's package.json and
package-lock.json into ``node_modules``. The schema refers to its parts (definitions,
protocol bindings, extensions) by ``$id``; every file of the package that has one is put in
a ``referencing`` registry, so nothing is fetched. A missing package fails the tests that
need it, never skips them: the catalog's validity is part of the contract.
"""

import functools
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "node_modules" / "@asyncapi" / "specs"
PARTS = ("definitions/3.0.0", "bindings", "extensions")
ASYNCAPI_3_0_0 = "http://asyncapi.com/definitions/3.0.0/asyncapi.json"


class SpecsMissing(AssertionError):
    """The npm package is not installed: the tests that need it fail with how to install it."""


@functools.cache
def asyncapi_validator() -> Draft7Validator:
    """A validator of AsyncAPI 3.0.0 documents, built from the installed package alone."""
    if not (SPECS / "package.json").exists():
        raise SpecsMissing(
            f"{SPECS} is missing: run `make venv` (or `npm ci` in {ROOT}) to install "
            "@asyncapi/specs from package-lock.json"
        )
    resources = []
    for part in PARTS:
        for path in sorted((SPECS / part).rglob("*.json")):
            contents = json.loads(path.read_text())
            if isinstance(contents, dict) and "$id" in contents:
                resource = Resource.from_contents(contents, default_specification=DRAFT7)
                resources.append((contents["$id"], resource))
    registry: Registry[Any] = Registry().with_resources(resources)
    return Draft7Validator(registry.contents(ASYNCAPI_3_0_0), registry=registry)


DOCUMENT_URI = "urn:outboxflow:asyncapi-under-test"


def schema_validator(document: dict[str, Any], pointer: str) -> Draft7Validator:
    """A validator of the schema at ``pointer`` (``#/components/...``) in ``document``,
    its local ``$ref``s resolved within the document."""
    resource = Resource.from_contents(document, default_specification=DRAFT7)
    registry: Registry[Any] = Registry().with_resource(DOCUMENT_URI, resource)
    return Draft7Validator({"$ref": f"{DOCUMENT_URI}{pointer}"}, registry=registry)
