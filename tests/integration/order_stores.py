"""Run a module's command tests on both order stores, then check the write side.

``pytestmark = ON_BOTH_ORDER_STORES`` in a test module: its ``app`` takes ORDER_STORE=state
and ORDER_STORE=events in turn, and ``flask aggregates verify`` must pass after each test.
"""

import pytest

ON_BOTH_ORDER_STORES = [
    pytest.mark.parametrize(
        "app",
        [{"ORDER_STORE": "state"}, {"ORDER_STORE": "events"}],
        indirect=True,
        ids=["state-store", "event-store"],
    ),
    pytest.mark.usefixtures("verify_aggregates"),
]
