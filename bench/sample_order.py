"""The one order every phase writes: two lines, 47.30 in all."""

from typing import Any

ITEMS: list[dict[str, Any]] = [
    {"sku": "book-42", "quantity": 2, "unit_price": "19.90"},
    {"sku": "pen", "quantity": 3, "unit_price": "2.50"},
]
TOTAL = "47.30"


def body(user_id: str) -> dict[str, Any]:
    """The JSON body of a create-order request (product and bare endpoint alike)."""
    return {"user_id": user_id, "items": [dict(item) for item in ITEMS]}
