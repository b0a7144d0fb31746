from app.application.ports import UnitOfWork
from app.domain.commands import AwardLoyaltyPoints, RevokeLoyaltyPoints
from app.domain.errors import NotFound
from app.domain.models import User


def _existing_user(uow: UnitOfWork, user_id: str) -> User:
    user = uow.users.get(user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    return user


def award_loyalty_points(command: AwardLoyaltyPoints, uow: UnitOfWork) -> User:
    user = _existing_user(uow, command.user_id)
    user.award_points(command.order_id, command.points)
    uow.users.save(user)
    return user


def revoke_loyalty_points(command: RevokeLoyaltyPoints, uow: UnitOfWork) -> User:
    user = _existing_user(uow, command.user_id)
    user.revoke_points(command.order_id)
    uow.users.save(user)
    return user
