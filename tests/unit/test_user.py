import pytest

from app.domain.errors import InvalidCommand
from app.domain.events import LoyaltyPointsAwarded, LoyaltyPointsRevoked, UserRegistered
from app.domain.models import User, normalize_email


def test_register_records_user_registered_at_version_one() -> None:
    user = User.register("u1", "  Ada@Example.com ", " Ada Lovelace ")
    assert (user.email, user.name, user.version, user.loyalty_points) == (
        "Ada@Example.com",
        "Ada Lovelace",
        1,
        0,
    )
    [event] = user.pending_events
    assert isinstance(event, UserRegistered)
    assert (event.aggregate_id, event.aggregate_version) == ("u1", 1)
    assert (event.email, event.name) == ("Ada@Example.com", "Ada Lovelace")


@pytest.mark.parametrize("email", ["", "ada", "@example.com", "ada@", "   "])
def test_register_refuses_an_invalid_email(email: str) -> None:
    with pytest.raises(InvalidCommand) as refused:
        User.register("u1", email, "Ada")
    assert refused.value.field == "email"


@pytest.mark.parametrize("name", ["", "   ", "\t\n"])
def test_register_refuses_a_blank_name(name: str) -> None:
    with pytest.raises(InvalidCommand) as refused:
        User.register("u1", "ada@example.com", name)
    assert refused.value.field == "name"


def test_email_normalisation_is_case_and_whitespace_insensitive() -> None:
    assert normalize_email("  Ada@Example.COM ") == "ada@example.com"
    assert normalize_email("ADA@EXAMPLE.COM") == normalize_email("ada@example.com")


def test_award_points_once_per_order() -> None:
    user = User("u1", "ada@example.com", "Ada", version=1)
    user.award_points("o1", 10)
    user.award_points("o1", 10)
    user.award_points("o1", 99)
    assert user.loyalty_points == 10
    assert user.loyalty_awards == {"o1": 10}
    [event] = user.pending_events
    assert isinstance(event, LoyaltyPointsAwarded)
    assert (event.order_id, event.points, event.balance, event.aggregate_version) == (
        "o1",
        10,
        10,
        2,
    )


def test_awards_for_different_orders_add_up() -> None:
    user = User("u1", "ada@example.com", "Ada", version=1)
    user.award_points("o1", 10)
    user.award_points("o2", 5)
    assert user.loyalty_points == 15
    assert [e.balance for e in user.pending_events] == [10, 15]  # type: ignore[attr-defined]


def test_award_of_zero_points_records_nothing() -> None:
    user = User("u1", "ada@example.com", "Ada", version=1)
    user.award_points("o1", 0)
    assert user.pending_events == []
    assert user.version == 1


def test_negative_award_is_refused() -> None:
    user = User("u1", "ada@example.com", "Ada", version=1)
    with pytest.raises(InvalidCommand):
        user.award_points("o1", -1)
    assert user.pending_events == []


def test_revoke_takes_back_exactly_what_was_awarded_once() -> None:
    user = User("u1", "a@b.c", "Ada", loyalty_points=15, loyalty_awards={"o1": 10, "o2": 5})
    user.revoke_points("o1")
    user.revoke_points("o1")
    assert user.loyalty_points == 5
    assert user.loyalty_awards == {"o2": 5}
    [event] = user.pending_events
    assert isinstance(event, LoyaltyPointsRevoked)
    assert (event.order_id, event.points, event.balance) == ("o1", 10, 5)


def test_revoke_without_award_records_nothing() -> None:
    user = User("u1", "a@b.c", "Ada", version=1)
    user.revoke_points("o1")
    assert user.pending_events == []
    assert user.loyalty_points == 0


def test_award_after_revoke_for_the_same_order_counts_again() -> None:
    """Revoking forgets the award, so the order is no longer marked as rewarded."""
    user = User("u1", "a@b.c", "Ada", version=1)
    user.award_points("o1", 4)
    user.revoke_points("o1")
    user.award_points("o1", 4)
    assert user.loyalty_points == 4
    assert [type(e).__name__ for e in user.pending_events] == [
        "LoyaltyPointsAwarded",
        "LoyaltyPointsRevoked",
        "LoyaltyPointsAwarded",
    ]
