from app.domain.models.order import Order, OrderStatus
from app.domain.models.user import User, normalize_email

__all__ = ["Order", "OrderStatus", "User", "normalize_email"]
