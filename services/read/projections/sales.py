"""sales: per UTC day of placement, orders placed and cancelled, revenue, average order value,
and units and revenue per SKU, over non-cancelled orders.

Each order's contribution is kept per order (role `orders`); the day documents a batch touched
are recomputed from them, so duplicates and any arrival order give the same days.
"""

from collections.abc import Iterable
from decimal import Decimal

from .base import Doc, Event, StreamFold, dec, money

NAME = "sales"
INDEXES = {"main": [], "orders": [[("day", 1)]]}


def fold_order(doc: Doc | None, event: Event) -> Doc:
    data = event.data
    if doc is None:
        doc = {"_id": event.stream_id, "version": 0, "lines": {}, "cancelled": False}
    if event.event_type == "OrderPlaced":
        doc["day"] = event.recorded_at.date().isoformat()
        doc["lines"] = {
            x["sku"]: [x["name"], x["quantity"], x["unit_price"]] for x in data["items"]
        }
    elif event.event_type == "OrderItemAdded":
        _, quantity, _ = doc["lines"].get(data["sku"], [data["name"], 0, data["unit_price"]])
        doc["lines"][data["sku"]] = [data["name"], quantity + data["quantity"], data["unit_price"]]
    elif event.event_type == "OrderItemRemoved":
        doc["lines"].pop(data["sku"], None)
    elif event.event_type == "OrderCancelled":
        doc["cancelled"] = True
    return doc


def day_document(day: str, orders: Iterable[Doc]) -> Doc:
    """The statistics of one day from the orders placed on it."""
    placed = cancelled = units = 0
    revenue = Decimal("0")
    products: dict[str, tuple[str, int, Decimal]] = {}
    for order in orders:
        placed += 1
        if order["cancelled"]:
            cancelled += 1
            continue
        for sku, (name, quantity, price) in sorted(order["lines"].items()):
            line = dec(price) * quantity
            revenue += line
            units += quantity
            _, sold, earned = products.get(sku, (name, 0, Decimal("0")))
            products[sku] = (name, sold + quantity, earned + line)
    kept = placed - cancelled
    return {
        "_id": day,
        "day": day,
        "orders_placed": placed,
        "orders_cancelled": cancelled,
        "revenue": money(revenue),
        "average_order_value": money(revenue / kept) if kept else "0.00",
        "units": units,
        "products": [
            {"sku": sku, "name": name, "units": n, "revenue": money(r)}
            for sku, (name, n, r) in sorted(products.items())
        ],
    }


FOLDS = {"order": StreamFold("orders", "order", fold_order, "OrderPlaced")}
