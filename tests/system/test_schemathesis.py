"""schemathesis against the live API: generated requests, from the OpenAPI document alone.

The app (eager mode, so commands run their handlers inline) serves real HTTP on a free
port; the schemathesis CLI reads ``/api/openapi.json`` and sends valid and invalid
requests to every operation. Checked: never a 5xx, and every answer conforms to the
document (status code, content type, headers, body schema); guarded operations refuse a
request without the token. It runs on each database: generated strings reach PostgreSQL's
stricter text type (no NUL) only there. ``schemathesis_hooks.py`` adds lone surrogates to
half of the bodies, which Hypothesis never generates; ``X-Min-Position`` is generated like
any other parameter, so positions past the newest event are sent too.

The system tier: the schemathesis CLI is a process of its own (about 20 s a database).
"""

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from app.infrastructure.messaging.relay import OutboxRelay
from tests.support.fixtures import DATABASE_KINDS, MakeDatabase
from tests.support.inprocess import Api, build_app, container
from tests.support.services import HOST

pytestmark = pytest.mark.system

SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))
HOOKS = Path(__file__).with_name("schemathesis_hooks.py")
ADMIN_TOKEN = "schemathesis-admin-token-0123456789abcdef"
API_TOKEN = "schemathesis-api-token"
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "ignored_auth",
]


@pytest.fixture(params=DATABASE_KINDS)
def live_url(
    request: pytest.FixtureRequest, tmp_path: Path, make_database: MakeDatabase
) -> Iterator[str]:
    """The app on a free port, with a user and an order to find, until the test ends."""
    database_url = None if request.param == "sqlite" else make_database(request.param).url
    with pytest.MonkeyPatch.context() as patch:
        # Eager mode: a failed inline handler is not a broker outage; do not pause dispatch.
        patch.setattr(OutboxRelay, "IMMEDIATE_PAUSE_SECONDS", 0.0)
        tokens = {"ADMIN_TOKEN": ADMIN_TOKEN, "API_TOKENS": API_TOKEN}
        app = build_app(tmp_path, tokens, database_url=database_url)
        seed = Api(app.test_client())
        seed.client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {API_TOKEN}"
        seed.create_order(seed.register()["user_id"])
        server = make_server(HOST, 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://{HOST}:{server.server_port}"
        finally:
            server.shutdown()
            thread.join(timeout=10)
            container(app).engine.dispose()


def test_the_live_api_conforms_to_its_document(live_url: str, tmp_path: Path) -> None:
    run = subprocess.run(
        [
            SCHEMATHESIS,
            "run",
            f"{live_url}/api/openapi.json",
            "--checks",
            ",".join(CHECKS),
            "--mode",
            "all",
            "--max-examples",
            "15",
            "--seed",
            "20261202",
            "--generation-deterministic",
            "--workers",
            "1",
            "--header",
            f"Authorization: Bearer {ADMIN_TOKEN}",
            "--request-timeout",
            "10",
            "--no-color",
            "--report-dir",
            str(tmp_path / "report"),
        ],
        cwd=tmp_path,
        env={**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS)},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
    assert "No issues found" in run.stdout or " passed" in run.stdout, run.stdout[-5000:]
