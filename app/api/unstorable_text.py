"""No request may carry text a database cannot store; it is refused before any view runs.

Two kinds of character make every driver raise (a 500 if they reached it):

* NUL (U+0000): PostgreSQL text cannot hold one, and psycopg raises on it.
* A lone surrogate (U+D800 to U+DFFF): half of a UTF-16 pair, not a character at all, so it
  has no UTF-8 form and psycopg and sqlite3 both raise on it. JSON lets a client send one as
  an escape (``"\\ud800"`` without its partner), and Python's JSON parser also lets the raw
  bytes of one through (it decodes with ``surrogatepass``). A well-formed pair
  (``"\\ud83d\\ude00"``) parses to one character and passes.

One rule for every route, present and future: such a character in the path is a 404 (no
resource is named by it); one in a query parameter, a form field or any key or string of a
JSON body is a marshmallow ``ValidationError`` naming where it is and which kind, which
``errors.py`` answers 422 ``validation_failed`` and the ops page 400. Werkzeug decodes the path,
query string and form with replacement characters, so a surrogate only arrives in JSON; the
others are checked alike anyway, so the rule does not hang on that. Headers are not checked:
Werkzeug reads them as Latin-1 (no surrogate), and the ones the app reads are validated by
their own patterns.
"""

import re
from collections.abc import Iterable
from typing import Any

from flask import Flask, abort, request
from marshmallow import ValidationError

NUL = "\x00"
NUL_MESSAGE = "must not contain a NUL character"
SURROGATE = re.compile("[\ud800-\udfff]")
SURROGATE_MESSAGE = (
    "must not contain a lone surrogate (U+D800 to U+DFFF; "
    "a \\uD800-\\uDBFF escape must be followed by a \\uDC00-\\uDFFF one)"
)
FORMS = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
"""The bodies Werkzeug parses into ``request.form`` (a JSON command skips the parse)."""

Path = tuple[str, ...]
Found = tuple[Path, list[str]]
"""Where unstorable text is (a key path) and what is wrong with it."""


def install(app: Flask) -> None:
    app.before_request(refuse_unstorable_text)


def refuse_unstorable_text() -> None:
    if _problems(request.path):
        abort(404, description="no resource has a NUL character or a surrogate in its path")
    # Cached first: parsing a form body consumes the stream, and a view reading the raw
    # body afterwards (a command refusing a form as 415) would find it empty.
    request.get_data()
    found = [
        *_in_pairs(request.args.items(multi=True)),
        *(_in_pairs(request.form.items(multi=True)) if request.mimetype in FORMS else []),
        *_in_json(_json_body()),
    ]
    if found:
        raise ValidationError(_errors(found))


def _problems(text: str) -> list[str]:
    """What makes ``text`` unstorable: one message per kind of bad character in it."""
    problems = [NUL_MESSAGE] if NUL in text else []
    if SURROGATE.search(text):
        problems.append(SURROGATE_MESSAGE)
    return problems


def _json_body() -> Any:
    if not request.is_json:
        return None
    try:
        return request.get_json(silent=True)
    except RecursionError:
        return None


def _in_pairs(pairs: Iterable[tuple[str, str]]) -> list[Found]:
    found: list[Found] = []
    for name, value in pairs:
        problems = list(dict.fromkeys([*_problems(name), *_problems(value)]))
        if problems:
            found.append(((name,), problems))
    return found


def _in_json(body: Any) -> list[Found]:
    """Where unstorable text is in ``body``, as key paths; walked without recursion (any depth)."""
    found: list[Found] = []
    pending: list[tuple[Path, Any]] = [((), body)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str):
            problems = _problems(value)
            if problems:
                found.append((path or ("_schema",), problems))
        elif isinstance(value, dict):
            for key, item in value.items():
                problems = _problems(key)
                if problems:
                    found.append(((*path, key), problems))
                else:
                    pending.append(((*path, key), item))
        elif isinstance(value, list):
            pending.extend(((*path, str(index)), item) for index, item in enumerate(value))
    return found


def _errors(found: list[Found]) -> dict[str, Any]:
    """Nested like marshmallow's own field errors: ``{"items": {"0": {"sku": [...]}}}``."""
    errors: dict[str, Any] = {}
    for path, problems in found:
        node = errors
        *parents, last = (_shown(name) for name in path)
        for name in parents:
            node = node.setdefault(name, {})
            if not isinstance(node, dict):
                break
        else:
            node[last] = problems
    return errors


def _shown(key: str) -> str:
    """A key as the refusal names it: a lone surrogate written as its escape's text
    (``\\ud800``). JSON holding one is not valid UTF-8, and a strict client (RFC 8259)
    would reject the whole refusal instead of reading it."""
    return SURROGATE.sub(lambda found: f"\\u{ord(found.group()):04x}", key)
