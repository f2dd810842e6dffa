"""An order's lines and total, folded once for every projection from the order's events, the
way the write side's Order folds them: a placed order's lines by SKU, a SKU added again adds its
quantity (at the name and price it was added with last), a removed SKU goes.

Each projection keeps, for each SKU, only the fields of a line it needs, in the order it names
them (`Lines.fields`, with `quantity` and `unit_price` among them), so its documents stay small.
"""

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from shared.contracts.events import ORDER_ITEM_ADDED, ORDER_ITEM_REMOVED, ORDER_PLACED
from shared.contracts.orders import order_total

from .base import Event

Line = list[Any]  # the values of `Lines.fields`, in that order
LINE_EVENTS = frozenset({ORDER_PLACED, ORDER_ITEM_ADDED, ORDER_ITEM_REMOVED})


@dataclass(frozen=True)
class Lines:
    """The lines of an order as one projection keeps them: SKU -> the fields it names."""

    fields: tuple[str, ...]
    _quantity: int = field(init=False)
    _price: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_quantity", self.fields.index("quantity"))
        object.__setattr__(self, "_price", self.fields.index("unit_price"))

    def fold(self, lines: dict[str, Line], event: Event) -> dict[str, Line]:
        """The lines after one of the order's events (the same dict, or a new one when the
        event replaces them all); events that do not touch lines leave them as they are."""
        kind, data = event.event_type, event.data
        if kind == ORDER_PLACED:
            return {item["sku"]: [item[f] for f in self.fields] for item in data["items"]}
        if kind == ORDER_ITEM_ADDED:
            line = [data[f] for f in self.fields]
            known = lines.get(data["sku"])
            if known is not None:
                line[self._quantity] += known[self._quantity]
            lines[data["sku"]] = line
        elif kind == ORDER_ITEM_REMOVED:
            lines.pop(data["sku"], None)
        return lines

    def quantity(self, line: Line) -> int:
        return int(line[self._quantity])

    def unit_price(self, line: Line) -> Decimal:
        return Decimal(line[self._price])

    def total(self, lines: dict[str, Line]) -> Decimal:
        """The order's total, in cents."""
        return order_total((self.quantity(x), self.unit_price(x)) for x in lines.values())
