"""Money is a Decimal with at most two places; stored as integer cents."""

from decimal import Decimal, InvalidOperation

CENT = Decimal("0.01")


def parse_money(value: object) -> Decimal:
    """Turn a decimal string or number into Money, refusing floats' surprises.

    Raises ValueError for anything that is not a finite, non-negative amount with
    at most two decimal places.
    """
    if isinstance(value, bool):
        raise ValueError("must be a decimal number or string")
    if isinstance(value, float):
        value = repr(value)
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValueError("must be a decimal number or string") from None
    if not amount.is_finite():
        raise ValueError("must be a finite number")
    if amount < 0:
        raise ValueError("must not be negative")
    if amount != amount.quantize(CENT):
        raise ValueError("must have at most two decimal places")
    if amount >= Decimal("1e12"):
        raise ValueError("is too large")
    return amount.quantize(CENT)


def to_cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_exact())


def from_cents(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)


def format_money(amount: Decimal) -> str:
    return str(amount.quantize(CENT))
