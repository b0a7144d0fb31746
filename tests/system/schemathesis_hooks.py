"""Hooks for the schemathesis CLI that ``test_schemathesis.py`` runs (``SCHEMATHESIS_HOOKS``).

* Bodies: Hypothesis never generates a lone surrogate (U+D800 to U+DFFF), yet JSON lets any
  client send one as an escape and no database driver can store it. A quarter of the bodies
  come with one after every string (so a body the schema accepts carries it to the
  database), a quarter with one as an extra key; the run shows both are refused with a
  documented 4xx, never a 5xx. Half stay as generated, so valid commands still create what
  the stateful phase follows links to.
* ``X-Min-Position``: generated positions are nearly all past the newest event (a 422), so
  two requests in three drop the header, letting valid queries reach their views too.
"""

from typing import Any

import schemathesis
from hypothesis import strategies as st

LONE_SURROGATE = "\ud800"
MIN_POSITION = "X-Min-Position"


@schemathesis.hook
def flatmap_body(context: schemathesis.HookContext, body: Any) -> st.SearchStrategy[Any]:
    return st.sampled_from([body, body, in_every_string(body), as_a_key(body)])


@schemathesis.hook
def flatmap_headers(
    context: schemathesis.HookContext, headers: dict[str, Any] | None
) -> st.SearchStrategy[dict[str, Any] | None]:
    if not headers or MIN_POSITION not in headers:
        return st.just(headers)
    without = {name: value for name, value in headers.items() if name != MIN_POSITION}
    return st.sampled_from([without, without, headers])


def in_every_string(value: Any) -> Any:
    """``value`` with a lone surrogate after every string in it, keys left alone."""
    if isinstance(value, str):
        return value + LONE_SURROGATE
    if isinstance(value, list):
        return [in_every_string(item) for item in value]
    if isinstance(value, dict):
        return {key: in_every_string(item) for key, item in value.items()}
    return value


def as_a_key(value: Any) -> Any:
    """An object with a lone surrogate as one more key; anything else as it is."""
    return {**value, LONE_SURROGATE: 1} if isinstance(value, dict) else value
