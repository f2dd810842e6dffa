"""The Order aggregate and its lifecycle: placed -> confirmed -> shipped, or cancelled, or
rejected (its tracked lines could not be reserved)."""

from collections.abc import Collection
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
    OrderRejected,
    OrderShipped,
    OrderStockReserved,
)
from shared.contracts.money import MAX_AMOUNT
from shared.contracts.orders import (
    OrderStatus as OrderStatus,  # the one declaration, re-exported
    StockState as StockState,
)

from .aggregate import Aggregate
from .commands import AddOrderItem, CancelOrder, PlaceOrder, RemoveOrderItem, ShipOrder
from .errors import DomainError, InvalidTransition, NotFound, StockPending


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
    """An order of one customer, in one currency, with at least one line.

    Lines whose SKU's stock is tracked must be reserved (by the fulfilment process) before the
    order can be confirmed; `tracked` names them, `stock_state` says where their stock is."""

    stream_type = ORDER

    status: OrderStatus = OrderStatus.PLACED
    stock_state: StockState = StockState.NOT_TRACKED
    customer_id: UUID | None = None
    currency: str = ""

    def __init__(self, stream_id: UUID) -> None:
        super().__init__(stream_id)
        self.lines: dict[str, OrderLine] = {}
        self.tracked: set[str] = set()

    def place(self, command: PlaceOrder, tracked: Collection[str] = ()) -> None:
        """Place the order; `tracked` holds (at least) the SKUs of its lines whose stock is
        tracked."""
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
                tracked=sorted({line.sku for line in items}.intersection(tracked)),
            )
        )

    def add_item(self, command: AddOrderItem, tracked: bool = False) -> None:
        """Add units of a SKU; `tracked`: its stock is tracked (a line tracked stays so)."""
        self._require(OrderStatus.PLACED, "add items to")
        known = self.lines.get(command.sku)
        if known is not None and known.unit_price != command.unit_price:
            raise DomainError(
                f"sku {command.sku!r} is already in the order at unit price {known.unit_price}"
            )
        quantity = _line_quantity(command.sku, command.quantity + (known.quantity if known else 0))
        line = command.model_copy(update={"quantity": quantity})
        _checked_total([*(v for k, v in self.lines.items() if k != command.sku), line])
        tracked = tracked or command.sku in self.tracked
        self.record(OrderItemAdded(**command.model_dump(), tracked=tracked))

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
        if self.stock_state is StockState.PENDING:
            raise StockPending("the order's stock is not reserved yet: retry shortly")
        self.record(OrderConfirmed())

    def mark_stock_reserved(self) -> None:
        """Every tracked line is reserved; no event when the order already says so."""
        self._require(OrderStatus.PLACED, "mark the stock reserved of")
        if self.stock_state is StockState.RESERVED:
            return
        if self.stock_state is StockState.NOT_TRACKED:
            raise InvalidTransition("the order has no tracked line to reserve")
        self.record(OrderStockReserved(skus=sorted(self.tracked)))

    def reject(self, skus: Collection[str]) -> None:
        """The stock of `skus` could not be reserved: the order ends here."""
        self._require(OrderStatus.PLACED, "reject")
        self.record(OrderRejected(reason="out_of_stock", skus=sorted(set(skus))))

    def expire(self, reason: str) -> None:
        """Cancel a placed order that held its stock too long unconfirmed (never a confirmed
        one: it was confirmed in time)."""
        self._require(OrderStatus.PLACED, "expire")
        self.record(OrderCancelled(reason=reason))

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
        self.tracked = set(event.tracked)
        self.stock_state = StockState.PENDING if self.tracked else StockState.NOT_TRACKED

    def _on_OrderItemAdded(self, event: OrderItemAdded) -> None:
        known = self.lines.get(event.sku)
        quantity = event.quantity + (known.quantity if known else 0)
        self.lines[event.sku] = OrderLine(
            sku=event.sku, name=event.name, quantity=quantity, unit_price=event.unit_price
        )
        if event.tracked:  # more units to reserve, even if the line held some already
            self.tracked.add(event.sku)
            self.stock_state = StockState.PENDING

    def _on_OrderItemRemoved(self, event: OrderItemRemoved) -> None:
        self.lines.pop(event.sku, None)
        self.tracked.discard(event.sku)
        if not self.tracked:
            self.stock_state = StockState.NOT_TRACKED

    def _on_OrderConfirmed(self, event: OrderConfirmed) -> None:
        self.status = OrderStatus.CONFIRMED

    def _on_OrderShipped(self, event: OrderShipped) -> None:
        self.status = OrderStatus.SHIPPED

    def _on_OrderCancelled(self, event: OrderCancelled) -> None:
        self.status = OrderStatus.CANCELLED

    def _on_OrderStockReserved(self, event: OrderStockReserved) -> None:
        self.stock_state = StockState.RESERVED

    def _on_OrderRejected(self, event: OrderRejected) -> None:
        self.status = OrderStatus.REJECTED
