"""How the ops page writes a wait: precise while short, rounded once it is long."""

import pytest

from app.api.ops import readable_age


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0.0, "0.0 s"),
        (12.34, "12.3 s"),
        (119.9, "119.9 s"),
        (120, "2 min"),
        (7199, "120 min"),
        (7200, "2.0 h"),
        (47.9 * 3600, "47.9 h"),
        (2 * 86400, "2.0 d"),
        (30 * 86400, "30.0 d"),
    ],
)
def test_ages_read_at_a_glance(seconds: float, shown: str) -> None:
    assert readable_age(seconds) == shown
