"""The records of the reference model (tests/reference.py): its orders, lines and customers, and
the documents made of them, in the read API's formats."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

Doc = dict[str, Any]
CENT = Decimal("0.01")
ZERO = Decimal("0")


def money(value: Decimal) -> str:
    """The API's money format: a decimal string with exactly two places."""
    return str(value.quantize(CENT, rounding=ROUND_HALF_EVEN))


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Line:
    sku: str
    name: str
    quantity: int
    unit_price: Decimal

    @property
    def total(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass
class Order:
    order_id: str
    customer_id: str
    currency: str
    shipping_address: Doc
    placed_at: datetime
    lines: dict[str, Line] = field(default_factory=dict)  # insertion order = first appearance
    status: str = "placed"
    history: list[Doc] = field(default_factory=list)
    carrier: str | None = None
    tracking_number: str | None = None
    cancel_reason: str | None = None
    updated_at: datetime | None = None
    version: int = 0
    tracked: set[str] = field(default_factory=set)  # SKUs of its lines whose stock is tracked
    stock: str | None = None  # its stock state; None: no line was ever tracked
    rejection: Doc | None = None

    @property
    def kept(self) -> bool:
        """Counted in values and revenue: neither cancelled nor rejected."""
        return self.status not in ("cancelled", "rejected")

    @property
    def total(self) -> Decimal:
        return sum((line.total for line in self.lines.values()), ZERO)


@dataclass
class Customer:
    customer_id: str
    name: str
    email: str
    registered_at: datetime
    updated_at: datetime
    version: int
    email_history: list[Doc]


def line_doc(line: Line) -> Doc:
    return {
        "sku": line.sku,
        "name": line.name,
        "quantity": line.quantity,
        "unit_price": money(line.unit_price),
        "line_total": money(line.total),
    }


def products(orders: list[Order]) -> list[Doc]:
    """Units and revenue per SKU over the orders neither cancelled nor rejected, by SKU."""
    units: dict[str, int] = defaultdict(int)
    revenue: dict[str, Decimal] = defaultdict(Decimal)
    names: dict[str, str] = {}
    for order in orders:
        if not order.kept:
            continue
        for line in order.lines.values():
            units[line.sku] += line.quantity
            revenue[line.sku] += line.total
            names[line.sku] = line.name
    return [
        {"sku": sku, "name": names[sku], "units": units[sku], "revenue": money(revenue[sku])}
        for sku in sorted(units)
    ]


def day_doc(day: date, orders: list[Order]) -> Doc:
    kept = [o for o in orders if o.kept]  # a rejected order counts as a cancelled one
    revenue = sum((o.total for o in kept), ZERO)
    average = revenue / len(kept) if kept else ZERO
    return {
        "day": day.isoformat(),
        "orders_placed": len(orders),
        "orders_cancelled": len(orders) - len(kept),
        "revenue": money(revenue),
        "average_order_value": money(average),
        "units": sum(line.quantity for o in kept for line in o.lines.values()),
        "products": products(orders),
    }
