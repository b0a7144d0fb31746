from app.application.ports import UnitOfWork
from app.domain.commands import RegisterUser
from app.domain.errors import EmailTaken
from app.domain.models import User, normalize_email


def register_user(command: RegisterUser, uow: UnitOfWork) -> User:
    if uow.users.get_by_email(normalize_email(command.email)) is not None:
        raise EmailTaken("this email address is already registered")
    user = User.register(command.user_id, command.email, command.name)
    uow.users.add(user)
    return user
