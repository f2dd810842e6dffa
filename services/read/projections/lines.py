"""An order's lines and total, folded once for every projection from the order's events, the
way the write side's Order folds them: a placed order's lines by SKU, a SKU added again adds its
quantity (at the name and price it was added with last), a removed SKU goes.

Each projection keeps, for each SKU, only the fields of a line it needs (`Lines.fields`, with
`quantity` and `unit_price` among them), so its documents stay small: as a list of their values
in that order, or (`named`) as a dict, the way order_details serves its items.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from shared.contracts.events import ORDER_ITEM_ADDED, ORDER_ITEM_REMOVED, ORDER_PLACED
from shared.contracts.orders import order_total

from .base import Event

Line = Any  # the values of `Lines.fields`: a list in that order, or a dict by name
LINE_EVENTS = frozenset({ORDER_PLACED, ORDER_ITEM_ADDED, ORDER_ITEM_REMOVED})


@dataclass(frozen=True)
class Lines:
    """The lines of an order as one projection keeps them: SKU -> the fields it names."""

    fields: tuple[str, ...]
    named: bool = False
    _quantity: int | str = field(init=False)
    _price: int | str = field(init=False)

    def __post_init__(self) -> None:
        place = (lambda name: name) if self.named else self.fields.index
        object.__setattr__(self, "_quantity", place("quantity"))
        object.__setattr__(self, "_price", place("unit_price"))

    def line(self, data: dict[str, Any]) -> Line:
        """A line as this projection keeps it, from an item of the order's events."""
        if self.named:
            return {name: data[name] for name in self.fields}
        return [data[name] for name in self.fields]

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
