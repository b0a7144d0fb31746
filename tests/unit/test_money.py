from decimal import Decimal

import pytest

from app.domain.money import format_money, from_cents, parse_money, to_cents


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12.50", "12.50"),
        ("12.5", "12.50"),
        ("0", "0.00"),
        (7, "7.00"),
        (0.1, "0.10"),
        (19.99, "19.99"),
        (" 3.25 ", "3.25"),
        ("1E+2", "100.00"),
        ("999999999999.99", "999999999999.99"),
    ],
)
def test_parse_money_accepts_decimal_strings_and_numbers(raw: object, expected: str) -> None:
    amount = parse_money(raw)
    assert isinstance(amount, Decimal)
    assert str(amount) == expected


def test_a_float_is_read_by_its_shortest_repr_not_its_binary_value() -> None:
    # Decimal(0.1) would be 0.1000000000000000055511151231257827...; refused as 3+ places.
    assert parse_money(0.1) == Decimal("0.10")
    assert parse_money(1.15) == Decimal("1.15")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (True, "decimal number or string"),
        (False, "decimal number or string"),
        ("", "decimal number or string"),
        ("twelve", "decimal number or string"),
        ("1,50", "decimal number or string"),
        (None, "decimal number or string"),
        ("NaN", "finite"),
        ("sNaN", "finite"),
        ("Infinity", "finite"),
        (float("inf"), "finite"),
        (float("nan"), "finite"),
        ("-0.01", "negative"),
        (-5, "negative"),
        ("0.001", "two decimal places"),
        ("1e-5", "two decimal places"),
        ("1000000000000", "too large"),
        ("1e12", "too large"),
    ],
)
def test_parse_money_refuses_with_a_reason(raw: object, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_money(raw)


@pytest.mark.parametrize("raw", ["1e30", 1e30, 10**40, "1E+999999999", "9" * 40])
def test_parse_money_refuses_huge_amounts_with_value_error(raw: object) -> None:
    """Every refusal is a ValueError (what the API turns into a 422), never a decimal trap."""
    with pytest.raises(ValueError, match="too large"):
        parse_money(raw)


def test_cents_round_trip() -> None:
    for text in ("0.00", "0.01", "12.34", "999999999999.99"):
        amount = Decimal(text)
        assert from_cents(to_cents(amount)) == amount
        assert format_money(from_cents(to_cents(amount))) == text
    assert to_cents(Decimal("12.34")) == 1234


def test_format_money_always_has_two_places() -> None:
    assert format_money(Decimal("5")) == "5.00"
    assert format_money(Decimal("5.5")) == "5.50"


@pytest.mark.parametrize("raw", ["-0", "-0.00", -0.0])
def test_negative_zero_is_plain_zero_on_the_wire(raw: object) -> None:
    """'-0.00' would reach events, projections and receipts as a price."""
    assert format_money(parse_money(raw)) == "0.00"
