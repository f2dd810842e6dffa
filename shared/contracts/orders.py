"""What an order is to every reader of its events: the statuses it goes through, and how its
lines make its total (the write side's Order and the read side's projections both count so)."""

from collections.abc import Iterable
from decimal import Decimal
from enum import StrEnum

from shared.contracts.money import quantize


class OrderStatus(StrEnum):
    """The states of an order: placed -> confirmed -> shipped, or cancelled; or rejected (its
    stock could not be reserved)."""

    PLACED = "placed"
    CONFIRMED = "confirmed"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


class StockState(StrEnum):
    """An order's stock: none of its lines tracked, reservations awaited, or all reserved."""

    NOT_TRACKED = "not_tracked"
    PENDING = "pending"
    RESERVED = "reserved"


def line_total(quantity: int, unit_price: Decimal) -> Decimal:
    """What one line costs (exact: prices have two places, quantities none)."""
    return unit_price * quantity


def order_total(lines: Iterable[tuple[int, Decimal]]) -> Decimal:
    """The total of an order's (quantity, unit price) lines, in cents."""
    return quantize(sum((price * quantity for quantity, price in lines), Decimal("0")))
