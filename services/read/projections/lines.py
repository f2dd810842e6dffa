"""An order's lines and total, folded once for every projection from the order's events, the
way the write side's Order folds them: a placed order's lines by SKU, a SKU added again adds its
quantity (at the name and price it was added with last), a removed SKU goes.

Each projection keeps, for each SKU, only the fields of a line it needs (`Lines.fields`, with
`quantity` and `unit_price` among them) so that its documents stay small, or the whole line.
"""

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from shared.contracts.events import ORDER_ITEM_ADDED, ORDER_ITEM_REMOVED, ORDER_PLACED
from shared.contracts.orders import order_total

from .base import Event

Line = Any  # the values of `Lines.fields`: a list in that order, or a dict by name
LINE_EVENTS = frozenset({ORDER_PLACED, ORDER_ITEM_ADDED, ORDER_ITEM_REMOVED})
# A whole line: an order line's fields (an added item's data has others, such as `tracked`).
LINE_FIELDS = ("sku", "name", "quantity", "unit_price")


class Lines:
    """The lines of an order as one projection keeps them, by SKU: the `fields` it names, as a
    list of their values in that order; or, without `fields`, whole (a dict of `LINE_FIELDS` by
    name: what order_details serves)."""

    def __init__(self, fields: tuple[str, ...] | None = None) -> None:
        self.fields = fields
        self._quantity: int | str = "quantity" if fields is None else fields.index("quantity")
        self._price: int | str = "unit_price" if fields is None else fields.index("unit_price")
        self.line: Callable[[dict[str, Any]], Line] = (
            (lambda data: {name: data[name] for name in LINE_FIELDS})
            if fields is None
            else (lambda data: [data[name] for name in fields])
        )
        """A line as this projection keeps it, from an item of the order's events."""

    def fold(self, lines: dict[str, Line], event: Event) -> dict[str, Line]:
        """The lines after one of the order's events (the same dict, or a new one when the
        event replaces them all); events that do not touch lines leave them as they are."""
        kind, data = event.event_type, event.data
        if kind == ORDER_PLACED:
            return {item["sku"]: self.line(item) for item in data["items"]}
        if kind == ORDER_ITEM_ADDED:
            line = self.line(data)
            known = lines.get(data["sku"])
            if known is not None:
                line[self._quantity] += known[self._quantity]
            lines[data["sku"]] = line
        elif kind == ORDER_ITEM_REMOVED:
            lines.pop(data["sku"], None)
        return lines

    def total(self, lines: Iterable[Line]) -> Decimal:
        """The order's total, in cents."""
        quantity, price = self._quantity, self._price
        return order_total((x[quantity], Decimal(x[price])) for x in lines)
