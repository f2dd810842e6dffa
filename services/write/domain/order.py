"""The Order aggregate and its lifecycle: placed -> confirmed -> shipped, or cancelled."""

from decimal import Decimal
from uuid import UUID

from shared.contracts import orders
from shared.contracts.events import (
    MAX_QUANTITY,
    ORDER,
    OrderCancelled,
    OrderConfirmed,
    OrderItemAdded,
    OrderItemRemoved,
    OrderLine,
    OrderPlaced,
    OrderShipped,
)
from shared.contracts.money import MAX_AMOUNT
from shared.contracts.orders import OrderStatus as OrderStatus  # the one declaration, re-exported

from .aggregate import Aggregate
from .commands import AddOrderItem, CancelOrder, PlaceOrder, RemoveOrderItem, ShipOrder
from .errors import DomainError, InvalidTransition, NotFound


def merge_lines(lines: list[OrderLine]) -> list[OrderLine]:
    """One line per SKU: repeated SKUs add their quantities, at one price."""
    merged: dict[str, OrderLine] = {}
    for line in lines:
        known = merged.get(line.sku)
        if known is None:
            merged[line.sku] = line
        elif known.unit_price != line.unit_price:
            raise DomainError(f"sku {line.sku!r} appears with two different unit prices")
        else:
            quantity = _line_quantity(line.sku, known.quantity + line.quantity)
            merged[line.sku] = known.model_copy(update={"quantity": quantity})
    return list(merged.values())


def _line_quantity(sku: str, quantity: int) -> int:
    if quantity > MAX_QUANTITY:
        raise DomainError(f"sku {sku!r} would count more than {MAX_QUANTITY} units")
    return quantity


def order_total(lines: list[OrderLine]) -> Decimal:
    return orders.order_total((line.quantity, line.unit_price) for line in lines)


def _checked_total(lines: list[OrderLine]) -> Decimal:
    total = order_total(lines)
    if total > MAX_AMOUNT:
        raise DomainError(f"the order's total would exceed {MAX_AMOUNT}")
    return total


class Order(Aggregate):
    """An order of one customer, in one currency, with at least one line."""

    stream_type = ORDER

    status: OrderStatus = OrderStatus.PLACED
    customer_id: UUID | None = None
    currency: str = ""

    def __init__(self, stream_id: UUID) -> None:
        super().__init__(stream_id)
        self.lines: dict[str, OrderLine] = {}

    def place(self, command: PlaceOrder) -> None:
        if self.exists:
            raise DomainError("order already placed")
        items = merge_lines(command.items)
        self.record(
            OrderPlaced(
                customer_id=command.customer_id,
                items=items,
                shipping_address=command.shipping_address,
                currency=command.currency,
                total=_checked_total(items),
            )
        )

    def add_item(self, command: AddOrderItem) -> None:
        self._require(OrderStatus.PLACED, "add items to")
        known = self.lines.get(command.sku)
        if known is not None and known.unit_price != command.unit_price:
            raise DomainError(
                f"sku {command.sku!r} is already in the order at unit price {known.unit_price}"
            )
        quantity = _line_quantity(command.sku, command.quantity + (known.quantity if known else 0))
        line = command.model_copy(update={"quantity": quantity})
        _checked_total([*(v for k, v in self.lines.items() if k != command.sku), line])
        self.record(OrderItemAdded(**command.model_dump()))

    def remove_item(self, command: RemoveOrderItem) -> None:
        self._require(OrderStatus.PLACED, "remove items from")
        line = self.lines.get(command.sku)
        if line is None:
            raise NotFound(f"sku {command.sku!r} is not in the order")
        if len(self.lines) == 1:
            raise DomainError("an order keeps at least one item")
        self.record(OrderItemRemoved(sku=command.sku, quantity=line.quantity))

    def confirm(self) -> None:
        self._require(OrderStatus.PLACED, "confirm")
        self.record(OrderConfirmed())

    def ship(self, command: ShipOrder) -> None:
        self._require(OrderStatus.CONFIRMED, "ship")
        self.record(OrderShipped(carrier=command.carrier, tracking_number=command.tracking_number))

    def cancel(self, command: CancelOrder) -> None:
        if self.status not in (OrderStatus.PLACED, OrderStatus.CONFIRMED):
            raise InvalidTransition(f"cannot cancel an order that is {self.status}")
        self.record(OrderCancelled(reason=command.reason or "no reason given"))

    @property
    def owner(self) -> UUID | None:
        return self.customer_id

    @property
    def total(self) -> Decimal:
        return order_total(list(self.lines.values()))

    def _require(self, status: OrderStatus, action: str) -> None:
        if self.status is not status:
            raise InvalidTransition(f"cannot {action} an order that is {self.status}")

    def _on_OrderPlaced(self, event: OrderPlaced) -> None:
        self.customer_id, self.currency = event.customer_id, event.currency
        self.lines = {line.sku: line for line in event.items}

    def _on_OrderItemAdded(self, event: OrderItemAdded) -> None:
        known = self.lines.get(event.sku)
        quantity = event.quantity + (known.quantity if known else 0)
        self.lines[event.sku] = OrderLine(
            sku=event.sku, name=event.name, quantity=quantity, unit_price=event.unit_price
        )

    def _on_OrderItemRemoved(self, event: OrderItemRemoved) -> None:
        self.lines.pop(event.sku, None)

    def _on_OrderConfirmed(self, event: OrderConfirmed) -> None:
        self.status = OrderStatus.CONFIRMED

    def _on_OrderShipped(self, event: OrderShipped) -> None:
        self.status = OrderStatus.SHIPPED

    def _on_OrderCancelled(self, event: OrderCancelled) -> None:
        self.status = OrderStatus.CANCELLED
