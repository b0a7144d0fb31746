"""``Idempotency-Key`` on POST commands: a retried request runs once.

The first request with a key claims it and runs; its reply is stored in the command's own
transaction, and the command's refusal (a 4xx) right after it. Not stored, so a retry with
the same key runs again: a 5xx; a request refused before its command ran (a body that
fails validation: fix it and send it again); a command that lost a race on its aggregate
(409, nothing written: the retry may well succeed).
A repeat with the same key, path and body gets the stored status and body with
``Idempotent-Replayed: true`` and writes nothing; the same key with another path or
body is 422 ``idempotency_key_reused``; a repeat while the first still runs is 409
``idempotency_key_in_flight``. Keys expire after IDEMPOTENCY_KEY_TTL_HOURS.

Keys are per caller (``auth.caller``: a digest of the request's bearer token): another
token's same key, path and body runs its own command, and never sees the first reply.
"""

import hashlib
import json
import re
from typing import Any

from flask import Blueprint, Response, g, jsonify, request

from app.api.auth import caller
from app.api.errors import error_response
from app.application.ports import ClaimedKey, InFlight, Replay, Reused
from app.container import container_of

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
EVENT_POSITION = "X-Event-Position"
_VALID = re.compile(r"^[\x21-\x7e]{1,255}$")


def install(blueprint: Blueprint) -> None:
    """Honour ``Idempotency-Key`` on every POST of ``blueprint``."""
    blueprint.before_request(_claim)
    blueprint.after_request(_settle)


def claimed_key() -> ClaimedKey | None:
    """The key this request holds, if it sent one: the command keeps its reply under it."""
    claimed: ClaimedKey | None = g.get("idempotency_claim")
    return claimed


def command_runs() -> None:
    """Called as the command starts: from here on its answer is stored (a success in its
    own transaction, a 4xx after it)."""
    g.idempotency_command_ran = True


def retry_may_succeed() -> None:
    """Called when the command wrote nothing for a reason a retry may not meet again."""
    g.idempotency_command_ran = False


def request_fingerprint() -> str:
    """Method, path and body; a JSON body is compared by content, not by its spacing."""
    body = request.get_data()
    try:
        parsed = json.loads(body) if body else None
        canonical = json.dumps(parsed, sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, RecursionError):
        canonical = body
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode())
    digest.update(canonical)
    return digest.hexdigest()


def _claim() -> Any:
    key = request.headers.get(HEADER)
    if request.method != "POST" or key is None:
        return None
    if not _VALID.match(key):
        return error_response(
            422,
            "validation_failed",
            f"{HEADER} must be 1 to 255 visible ASCII characters",
            {HEADER: ["must be 1 to 255 visible ASCII characters"]},
        )
    outcome = container_of().idempotency_keys.claim(caller(), key, request_fingerprint())
    if isinstance(outcome, ClaimedKey):
        g.idempotency_claim = outcome
        return None
    if isinstance(outcome, Reused):
        return error_response(
            422,
            "idempotency_key_reused",
            f"{HEADER} {key!r} was first used with another path or body",
        )
    if isinstance(outcome, InFlight):
        return error_response(
            409,
            "idempotency_key_in_flight",
            f"the first request with {HEADER} {key!r} has not finished; retry shortly",
        )
    return _replay(outcome)


def _replay(stored: Replay) -> Response:
    response = jsonify(stored.body)
    response.status_code = stored.status_code
    response.headers[REPLAYED] = "true"
    if stored.event_position is not None:
        response.headers[EVENT_POSITION] = str(stored.event_position)
    return response


def _settle(response: Response) -> Response:
    claimed: ClaimedKey | None = g.pop("idempotency_claim", None)
    if claimed is None:
        return response
    command_ran = g.pop("idempotency_command_ran", False)
    if command_ran and response.status_code < 400:
        return response
    keys = container_of().idempotency_keys
    if response.status_code >= 500 or not command_ran:
        keys.release(claimed)
    else:
        keys.store_refusal(claimed, response.status_code, response.get_json(silent=True))
    return response
