"""The User aggregate: identity and loyalty-point balance."""

from app.domain.errors import InvalidCommand
from app.domain.events import LoyaltyPointsAwarded, LoyaltyPointsRevoked, UserRegistered
from app.domain.models.aggregate import Aggregate

MAX_NAME_LENGTH = 200


def normalize_email(email: str) -> str:
    """Emails are unique case-insensitively; this is the comparison key."""
    return email.strip().lower()


class User(Aggregate):
    def __init__(
        self,
        user_id: str,
        email: str,
        name: str,
        loyalty_points: int = 0,
        loyalty_awards: dict[str, int] | None = None,
        version: int = 0,
    ) -> None:
        super().__init__(user_id, version)
        self.email = email
        self.name = name
        self.loyalty_points = loyalty_points
        self.loyalty_awards: dict[str, int] = dict(loyalty_awards or {})

    @classmethod
    def register(cls, user_id: str, email: str, name: str) -> "User":
        email, name = email.strip(), name.strip()
        if "@" not in email or email.startswith("@") or email.endswith("@"):
            raise InvalidCommand("is not a valid email address", field="email")
        if not name:
            raise InvalidCommand("must not be blank", field="name")
        user = cls(user_id, email, name)
        user._record(UserRegistered, email=email, name=name)
        return user

    def award_points(self, order_id: str, points: int) -> None:
        """Award points for an order once; a second award for the same order is a no-op."""
        if points < 0:
            raise InvalidCommand("must not be negative", field="points")
        if order_id in self.loyalty_awards or points == 0:
            return
        self.loyalty_awards[order_id] = points
        self.loyalty_points += points
        self._record(
            LoyaltyPointsAwarded, order_id=order_id, points=points, balance=self.loyalty_points
        )

    def revoke_points(self, order_id: str) -> None:
        """Take back what was awarded for an order; nothing awarded means nothing to take."""
        points = self.loyalty_awards.pop(order_id, None)
        if points is None:
            return
        self.loyalty_points -= points
        self._record(
            LoyaltyPointsRevoked, order_id=order_id, points=points, balance=self.loyalty_points
        )
