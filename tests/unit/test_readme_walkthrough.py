"""docs/extending.md's "Adding a new event and handler" stays true: the files it lists exist (but
the test it creates), there are at most five, and the names it builds on are still there."""

import re
from pathlib import Path

from app.application.event_handlers import notifications, registry, specs
from app.domain.events import EVENT_CLASSES, LoyaltyPointsRevoked, UserEvent
from app.domain.models import user
from app.infrastructure.messaging import schema_snapshot

ROOT = Path(__file__).resolve().parents[2]
CREATED = "tests/unit/test_loyalty_tier.py"


def _section() -> str:
    text = (ROOT / "docs" / "extending.md").read_text()
    start = text.index("## Adding a new event and handler")
    return text[start : text.index("\n## ", start + 1)]


def test_the_walkthrough_touches_at_most_five_files_and_they_exist() -> None:
    files = re.findall(r"^\| `([^`]+)` \|", _section(), flags=re.MULTILINE)
    assert 0 < len(files) <= 5, files
    assert CREATED in files
    assert [f for f in files if f != CREATED and not (ROOT / f).is_file()] == []
    assert str(schema_snapshot.SNAPSHOT_PATH.relative_to(ROOT)) in files


def test_the_names_it_builds_on_are_still_there() -> None:
    assert set(notifications.HANDLERS) <= set(registry.HANDLERS), "registry.py would need an edit"
    assert callable(specs.external_handler) and callable(specs.database_handler)
    assert EVENT_CLASSES[LoyaltyPointsRevoked.event_type] is LoyaltyPointsRevoked
    assert issubclass(LoyaltyPointsRevoked, UserEvent)
    assert hasattr(user, "MAX_NAME_LENGTH") and hasattr(user.User, "award_points")
