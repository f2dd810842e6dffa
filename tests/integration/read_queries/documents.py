"""The documents the query tests seed in version 1 of each projection, as the projections write
them (internal fields included)."""

from datetime import UTC, date, datetime
from typing import Any
from uuid import uuid4

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
Doc = dict[str, Any]


def order_doc(
    customer_id: str, placed_at: datetime, status: str = "placed", version: int = 1
) -> Doc:
    order_id = str(uuid4())
    return {
        "_id": order_id, "order_id": order_id, "customer_id": customer_id,
        "customer_name": "Ann", "customer_email": "ann@x.io", "customer_version": 1,
        "currency": "EUR",
        "items": [{"sku": "A", "name": "Apple", "quantity": 2, "unit_price": "1.25",
                   "line_total": "2.50"}],
        "total": "2.50", "item_count": 2, "status": status,
        "status_history": [{"status": "placed", "at": placed_at, "version": 1}],
        "shipping_address": {"line1": "1 Road", "city": "Oslo", "postal_code": "0150",
                             "country": "NO"},
        "carrier": None, "tracking_number": None, "cancel_reason": None,
        "placed_at": placed_at, "updated_at": placed_at, "version": version, "_rev": 7,
    }  # fmt: skip


def customer_doc(email: str, version: int = 1) -> Doc:
    customer_id = str(uuid4())
    return {
        "_id": customer_id, "customer_id": customer_id, "name": "Ann Lee", "email": email,
        "email_lower": email.lower(),
        "email_history": [{"email": email, "changed_at": T0, "version": 1}],
        "registered_at": T0, "updated_at": T0, "version": version, "order_count": 0,
        "lifetime_value": "0.00", "_rev": 3,
    }  # fmt: skip


def day_doc(day: date, products: list[tuple[str, int, str]]) -> Doc:
    return {
        "_id": day.isoformat(), "day": day.isoformat(), "orders_placed": 1,
        "orders_cancelled": 0, "revenue": "9.99", "average_order_value": "9.99", "units": 1,
        "products": [{"sku": s, "name": f"Name {s}", "units": u, "revenue": r}
                     for s, u, r in products],
        "_rev": 1,
    }  # fmt: skip
