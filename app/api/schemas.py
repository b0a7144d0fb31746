"""Request schemas (the API parses with them and documents them). Unknown fields are refused."""

from decimal import Decimal
from typing import Any, TypedDict
from uuid import UUID

from marshmallow import Schema, ValidationError, fields, validate

from app.domain.money import DEFAULT_CURRENCY, parse_money


class Money(fields.Field[Decimal]):
    """A decimal string or a JSON number, at most two decimal places, never negative."""

    OPENAPI = {
        "oneOf": [
            {"type": "string", "pattern": r"^\d+(\.\d{1,2})?$", "example": "12.50"},
            {"type": "number", "minimum": 0, "multipleOf": 0.01},
        ]
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(metadata={**self.OPENAPI, **kwargs.pop("metadata", {})}, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ValidationError("must be a decimal number or string")
        try:
            return parse_money(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class RegisterUserSchema(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=320))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))


class RegisterUserBody(TypedDict):
    """What ``RegisterUserSchema`` loads."""

    email: str
    name: str


class LineItemSchema(Schema):
    sku = fields.String(required=True, validate=validate.Length(min=1, max=64))
    quantity = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=1_000_000)
    )
    unit_price = Money(required=True)


class LineItemBody(TypedDict):
    sku: str
    quantity: int
    unit_price: Decimal


class CreateOrderSchema(Schema):
    user_id = fields.UUID(required=True)
    items = fields.List(
        fields.Nested(LineItemSchema), required=True, validate=validate.Length(min=1, max=100)
    )
    currency = fields.String(
        load_default=DEFAULT_CURRENCY,
        validate=validate.Regexp(r"^[A-Z]{3}$", error="must be an ISO 4217 code like EUR"),
    )


class CreateOrderBody(TypedDict):
    """What ``CreateOrderSchema`` loads."""

    user_id: UUID
    items: list[LineItemBody]
    currency: str


class PayOrderSchema(Schema):
    amount = Money(required=True)


class PayOrderBody(TypedDict):
    amount: Decimal


class ShipOrderSchema(Schema):
    pass


class CancelOrderSchema(Schema):
    reason = fields.String(load_default="", validate=validate.Length(max=500))


class CancelOrderBody(TypedDict):
    reason: str
