"""Fuzz the HTTP API with odd and malformed requests: bad input is refused, clearly.

Whatever arrives, the service must answer: never a 5xx; every 4xx a JSON error body;
a refused request writes nothing (row counts of every table unchanged); an accepted one
is fully processed (every delivery it caused is done). Derandomized and without an
example database, so CI and a laptop run the very same requests.
"""

import json
import math
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.infrastructure.messaging.relay import OutboxRelay
from tests.support.inprocess import Api, build_app, container, row_counts
from tests.support.refusals import assert_refused

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MAX_BYTES = 64 * 1024


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One app for the module, with a user and an order in every state to aim at."""
    with pytest.MonkeyPatch.context() as patch:
        # In eager mode a failed "publish" is a failed handler, not a broker outage: do not
        # pause immediate dispatch, or one bad example would leave the next ones pending.
        patch.setattr(OutboxRelay, "IMMEDIATE_PAUSE_SECONDS", 0.0)
        app = build_app(Path(tmp_path_factory.mktemp("fuzz")))
        api = Api(app.test_client())
        user = api.register("taken@example.com", "Taken")
        orders = {}
        for state in ("created", "paid", "shipped", "cancelled"):
            order = api.create_order(user["user_id"], ("book", 2, "12.50"))
            if state in ("paid", "shipped"):
                api.pay(order)
            if state == "shipped":
                api.ship(order)
            if state == "cancelled":
                api.cancel(order)
            orders[state] = order["order_id"]
        yield {"app": app, "user_id": user["user_id"], "orders": orders}
        container(app).engine.dispose()


def _max_outbox_id(app: Flask) -> int:
    with container(app).engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT coalesce(max(id), 0) FROM outbox")).scalar_one())


def _unfinished_since(app: Flask, outbox_id: int) -> list[tuple[Any, ...]]:
    with container(app).engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT handler, status, last_error FROM outbox WHERE id > :id AND status != 'done'"
            ),
            {"id": outbox_id},
        ).all()
    return [tuple(r) for r in rows]


def send(
    world: dict[str, Any],
    method: str,
    path: str,
    *,
    data: bytes | None = None,
    content_type: str | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    """Send one request and check on it every rule above for bad input."""
    app: Flask = world["app"]
    client: FlaskClient = app.test_client()
    before, last_delivery = row_counts(app), _max_outbox_id(app)
    kwargs: dict[str, Any] = {"method": method, "headers": headers or {}}
    if data is not None:
        kwargs["data"] = data
    if content_type is not None:
        kwargs["content_type"] = content_type
    response = client.open(path, **kwargs)
    status = response.status_code
    sent = (data or b"")[:300]
    shown = f"{method} {path} {sent!r} -> {status}: {response.get_data()[:300]!r}"
    assert status < 500, shown
    assert response.headers.get("X-Correlation-ID"), shown
    if status >= 400:
        assert_refused(response, status)
        assert row_counts(app) == before, f"refused but wrote rows: {shown}"
    else:
        assert _unfinished_since(app, last_delivery) == [], f"accepted, not processed: {shown}"


# --- values --------------------------------------------------------------------------------

ODD_STRINGS = [
    "",
    " ",
    "0",
    "-0",
    "-1",
    "0.001",
    "1e2",
    "1e-2",
    "1e30",
    "1E+999999999",
    "9" * 40,
    "NaN",
    "-Infinity",
    "sNaN",
    "1_000",
    "0x10",
    "1,50",
    "\u0661\u0662",  # Arabic-Indic digits
    "\uff11\uff12",  # full-width digits
    "12.50",
    "25.00",
    "25",
    "999999999999.99",
    "1000000000000",
    "\x00",
    "\u202e",
    "null",
    "true",
    "[]",
    "{}",
    "TAKEN@EXAMPLE.COM",
    "a@b",
    "a" * 321,
    "😀" * 10,
]
ODD_NUMBERS = [
    0,
    1,
    -1,
    2,
    25,
    100,
    999_999,
    1_000_000,
    1_000_001,
    2**31,
    2**63,
    -(2**63),
    10**30,
    10**300,
    0.5,
    25.0,
    1e-30,
    1e30,
    1e308,
    -0.0,
    12.5,
    999999999999.99,
    math.nan,
    math.inf,
    -math.inf,
]
UUIDS = [str(uuid.UUID(int=n)) for n in (0, 1, 2**128 - 1)]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(ODD_STRINGS),
    st.sampled_from(ODD_NUMBERS),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


edge_values = st.sampled_from(ODD_STRINGS + ODD_NUMBERS)


def odd(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A plausible value half the time; else an edge case, a wrong type, or a structure."""
    return st.one_of(valid, edge_values, valid, scalars, json_values, edge_values)


def with_extras(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """The fields (each may be missing), and one time in four some unknown ones."""
    known = st.fixed_dictionaries({}, optional=fields)
    unknown = st.dictionaries(st.text(max_size=12), json_values, min_size=1, max_size=2)
    return st.one_of(known, known, known, st.tuples(known, unknown).map(_merged))


def _merged(parts: tuple[dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
    return {**parts[1], **parts[0]}


money = st.one_of(
    st.decimals(min_value=0, max_value=10**12, places=2, allow_nan=False).map(str),
    st.sampled_from(["12.50", 12.5, 25, "25.00", "999999999999.99", 999999999999.99]),
)
# Size limits are tested with cheap, uniform lists: big random lists take ages to shrink.
many_items = st.tuples(st.integers(99, 102), st.sampled_from([1, 1_000_000]), money).map(
    lambda t: [{"sku": f"s{n}", "quantity": t[1], "unit_price": t[2]} for n in range(t[0])]
)
line_item = with_extras(
    {
        "sku": odd(st.text(min_size=1, max_size=64)),
        "quantity": odd(st.sampled_from([1, 2, 3, 1_000_000]) | st.integers(1, 1_000_000)),
        "unit_price": odd(money),
    }
)


def bodies(world: dict[str, Any]) -> dict[str, st.SearchStrategy[Any]]:
    user_ids = st.sampled_from(
        [
            world["user_id"],
            world["user_id"].upper(),
            world["user_id"].replace("-", ""),
            f"{{{world['user_id']}}}",
            *UUIDS,
        ]
    )
    return {
        "users": with_extras(
            {
                "email": odd(
                    st.emails() | st.sampled_from(["taken@example.com", "Taken@Example.COM"])
                ),
                "name": odd(st.text(min_size=1, max_size=200)),
            }
        ),
        "orders": with_extras(
            {
                "user_id": odd(user_ids),
                "items": odd(st.lists(line_item, max_size=3) | many_items),
            }
        ),
        "pay": with_extras({"amount": odd(money | st.sampled_from(["25.00", 25]))}),
        "ship": with_extras({}),
        "cancel": with_extras({"reason": odd(st.text(max_size=600))}),
    }


def _url(world: dict[str, Any], action: str, target: str) -> str:
    if action in ("users", "orders"):
        return f"/api/{action}"
    order_id = world["orders"].get(target, target)
    return f"/api/orders/{quote(order_id, safe='')}/{action}"


TARGETS = ["created", "paid", "shipped", "cancelled", *UUIDS, "not-a-uuid"]
ACTIONS = ["users", "orders", "pay", "ship", "cancel"]


def _encode(value: Any) -> bytes:
    try:
        return json.dumps(value, allow_nan=True).encode()
    except ValueError:  # an int past Python's str-conversion digit limit
        return b"0"


# --- the fuzz tests ------------------------------------------------------------------------


def test_fuzz_command_bodies(world: dict[str, Any]) -> None:
    """Field-aware JSON bodies: right shapes with wrong, odd, missing and unknown fields."""
    strategies = bodies(world)
    ran = []

    @settings(FUZZ, max_examples=300)
    @given(
        request=st.sampled_from(ACTIONS).flatmap(
            lambda action: st.tuples(
                st.just(action),
                st.sampled_from(TARGETS),
                strategies[action] | json_values,
            )
        )
    )
    def check(request: tuple[str, str, Any]) -> None:
        action, target, body = request
        ran.append(1)
        send(
            world,
            "POST",
            _url(world, action, target),
            data=_encode(body),
            content_type="application/json",
        )

    check()
    assert len(ran) >= 300


def _nested(depth: int) -> bytes:
    return ("[" * depth + "]" * depth).encode()


raw_bodies = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200).map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.integers(1, 60_000).map(_nested),
    st.integers(1, 20_000).map(lambda d: ('{"a":' * d + "1" + "}" * d).encode()),
    st.integers(MAX_BYTES - 20, 3 * MAX_BYTES).map(lambda n: b'{"reason": "' + b"x" * n + b'"}'),
    st.integers(4_000, 20_000).map(lambda n: b'{"amount": 1' + b"0" * n + b"}"),
    st.sampled_from(
        [
            b"",
            b"{",
            b"}",
            b"null",
            b"NaN",
            b"-Infinity",
            b"[]",
            b'"text"',
            b"\xef\xbb\xbf{}",
            b'{"amount": "25.00"',
            b'{"amount": 25.00}',
            b'{"amount": 2.5e1}',
            b'{"amount": 1e400}',
            b'{"amount": -0}',
            b'{"reason": "\\ud800"}',
            b'{"reason": "a", "reason": 5}',
            b"\x00\x00\x00{",
            '{"name": "Zoë", "email": "zoe@example.com"}'.encode("utf-16"),
            '{"name": "Zoë", "email": "zoe@example.com"}'.encode("utf-32"),
            '{"name": "Zoë", "email": "zoe@example.com"}'.encode("latin-1"),
        ]
    ),
)
content_types = st.sampled_from(
    [
        None,
        "application/json",
        "application/json",
        "application/json; charset=utf-8",
        "application/json; charset=latin-1",
        "application/problem+json",
        "text/json",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/octet-stream",
        "",
    ]
)


def test_fuzz_raw_bodies_and_content_types(world: dict[str, Any]) -> None:
    """Bytes that are not the JSON we want: garbage, nesting, huge, wrong encodings and types."""
    ran = []

    @settings(FUZZ, max_examples=150)
    @given(
        action=st.sampled_from(ACTIONS),
        target=st.sampled_from(TARGETS),
        data=raw_bodies,
        content_type=content_types,
    )
    def check(action: str, target: str, data: bytes, content_type: str | None) -> None:
        ran.append(1)
        send(world, "POST", _url(world, action, target), data=data, content_type=content_type)

    check()
    assert len(ran) >= 150


odd_ids = st.one_of(
    st.sampled_from(["created", "paid", "shipped", "cancelled", "user", *UUIDS]),
    st.text(min_size=1, max_size=40),
    st.uuids().map(str),
    st.uuids().map(lambda u: u.hex.upper()),
    st.sampled_from(["..", ".", "%00", "0" * 500, "-1", "1e5", "null", "None", " "]),
)
paths = st.sampled_from(
    [
        "/api/orders/{id}",
        "/api/users/{id}",
        "/api/users/{id}/orders",
        "/api/orders/{id}/pay",
        "/api/orders/{id}/ship",
        "/api/orders/{id}/cancel",
        "/api/users",
        "/api/orders",
        "/api/outbox/stats",
        "/healthz",
        "/api/{id}",
        "/{id}",
    ]
)
methods = st.sampled_from(["GET", "GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
header_values = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=80)


def test_fuzz_ids_methods_and_headers(world: dict[str, Any]) -> None:
    """Every route with odd ids, every method, odd correlation ids and query strings."""
    ran = []

    @settings(FUZZ, max_examples=100)
    @given(
        method=methods,
        template=paths,
        raw_id=odd_ids,
        correlation=st.none() | header_values,
        query=st.dictionaries(st.text(max_size=8), st.text(max_size=20), max_size=2),
        body=st.none() | json_values,
    )
    def check(
        method: str,
        template: str,
        raw_id: str,
        correlation: str | None,
        query: dict[str, str],
        body: Any,
    ) -> None:
        ran.append(1)
        known = {**world["orders"], "user": world["user_id"]}
        path = template.format(id=quote(known.get(raw_id, raw_id), safe=""))
        if query:
            path += "?" + urlencode(query)
        headers = {} if correlation is None else {"X-Correlation-ID": correlation}
        data = None if body is None else _encode(body)
        send(
            world,
            method,
            path,
            data=data,
            content_type="application/json" if data is not None else None,
            headers=headers,
        )

    check()
    assert len(ran) >= 100


def test_fuzz_dead_letter_endpoints(world: dict[str, Any]) -> None:
    """The operator API takes filters from strangers too."""
    ran = []
    filter_values = st.one_of(
        st.text(max_size=30),
        st.sampled_from(
            ["1h", "0s", "99999d", "9999999d", "10**20d", "2026-01-01", "2026-13-40", "0001-01-01"]
        ),
        st.integers().map(lambda n: f"{n}d"),
    )
    filters = st.dictionaries(
        st.sampled_from(
            ["handler", "event_type", "error", "since", "status", "limit", "offset", "x"]
        ),
        filter_values,
        max_size=3,
    )

    @settings(FUZZ, max_examples=50)
    @given(
        kind=st.sampled_from(["list", "get", "retry-one", "skip-one", "retry"]),
        params=filters,
        number=st.integers(min_value=-1, max_value=2**80),
        raw=st.one_of(filters.map(lambda f: json.dumps(f).encode()), raw_bodies),
        content_type=content_types,
    )
    def check(
        kind: str, params: dict[str, str], number: int, raw: bytes, content_type: str | None
    ) -> None:
        ran.append(1)
        if kind == "list":
            send(world, "GET", "/api/dead-letters?" + urlencode(params))
        elif kind == "get":
            send(world, "GET", f"/api/dead-letters/{number}")
        elif kind == "retry-one":
            send(world, "POST", f"/api/dead-letters/{number}/retry")
        elif kind == "skip-one":
            send(world, "POST", f"/api/dead-letters/{number}/skip")
        else:
            send(world, "POST", "/api/dead-letters/retry", data=raw, content_type=content_type)

    check()
    assert len(ran) >= 50
