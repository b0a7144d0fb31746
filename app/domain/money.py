"""Money is a Decimal with at most two places; stored as integer cents."""

from decimal import Decimal, InvalidOperation

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("1e12")
DEFAULT_CURRENCY = "EUR"
"""The currency of an order that names none, and of every order stored before
``order.created`` v2 (the service took euros only until then)."""


def parse_money(value: object) -> Decimal:
    """Turn a decimal string or number into Money, refusing floats' surprises.

    Raises ValueError for anything that is not a finite, non-negative amount with
    at most two decimal places.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValueError("must be a decimal number or string")
    if isinstance(value, str):
        value = value.strip()
        if not value.isascii() or "_" in value:
            raise ValueError("must be a decimal number or string")
    try:
        amount = Decimal(repr(value) if isinstance(value, float) else value)
    except (InvalidOperation, ValueError):
        raise ValueError("must be a decimal number or string") from None
    if not amount.is_finite():
        raise ValueError("must be a finite number")
    if amount < 0:
        raise ValueError("must not be negative")
    if amount >= MAX_AMOUNT:
        raise ValueError(f"is too large (must be less than {MAX_AMOUNT:,.0f})")
    if amount != amount.quantize(CENT):
        raise ValueError("must have at most two decimal places")
    # "+ 0" turns a negative zero into a plain zero.
    return amount.quantize(CENT) + 0


def to_cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_exact())


def from_cents(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)


def format_money(amount: Decimal) -> str:
    return str(amount.quantize(CENT))
