"""The StockItem aggregate: what is on hand of one SKU, and what of it each order holds."""

from typing import Self
from uuid import UUID

from shared.contracts.events import (
    STOCK,
    StockAdjusted,
    StockEvent,
    StockReceived,
    StockReleased,
    StockReservationRefused,
    StockReserved,
    StockShippedOut,
    stock_stream_id,
)

from .aggregate import Aggregate
from .commands import AdjustStock, ReceiveStock
from .errors import NotFound, StockRule


class StockItem(Aggregate):
    """One SKU's stock: on hand, reserved per order, and always 0 <= reserved <= on hand.

    Receipts and adjustments come from staff; reservations, releases and shipments out from
    the fulfilment process, each idempotent per (SKU, order)."""

    stream_type = STOCK

    def __init__(self, stream_id: UUID) -> None:
        super().__init__(stream_id)
        self.sku = ""
        self.on_hand = 0
        self.reserved = 0
        self.reservations: dict[UUID, int] = {}

    @classmethod
    def for_sku(cls, sku: str) -> Self:
        """The (not yet received) stock item of `sku`, on the stream the SKU names."""
        item = cls(stock_stream_id(sku))
        item.sku = sku
        return item

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    def receive(self, command: ReceiveStock) -> None:
        if not self.sku:  # a new item is made with for_sku: its stream is named by the SKU
            raise ValueError("a stock item without its SKU cannot receive stock")
        on_hand = self.on_hand + command.quantity
        self.record(
            StockReceived(
                sku=self.sku, on_hand=on_hand, reserved=self.reserved, quantity=command.quantity
            )
        )

    def adjust(self, command: AdjustStock) -> None:
        self._require_exists()
        on_hand = self.on_hand + command.quantity
        if on_hand < 0:
            raise StockRule(f"sku {self.sku!r} has {self.on_hand} on hand: cannot go below 0")
        if on_hand < self.reserved:
            raise StockRule(
                f"sku {self.sku!r} has {self.reserved} reserved: on hand cannot go below it"
            )
        self.record(
            StockAdjusted(
                sku=self.sku,
                on_hand=on_hand,
                reserved=self.reserved,
                quantity=command.quantity,
                reason=command.reason,
            )
        )

    def reserve(self, order_id: UUID, quantity: int) -> bool:
        """Make the order's whole reservation `quantity`; False (and the old one kept) when
        too few units are available for the difference."""
        self._require_exists()
        if quantity <= 0:
            raise ValueError("a reservation holds at least one unit: release it instead")
        held = self.reservations.get(order_id, 0)
        if quantity == held:
            return True
        reserved = self.reserved + quantity - held
        if quantity - held > self.available:
            self.record(
                StockReservationRefused(
                    sku=self.sku,
                    on_hand=self.on_hand,
                    reserved=self.reserved,
                    order_id=order_id,
                    quantity=quantity,
                    available=self.available,
                )
            )
            return False
        self.record(
            StockReserved(
                sku=self.sku,
                on_hand=self.on_hand,
                reserved=reserved,
                order_id=order_id,
                quantity=quantity,
            )
        )
        return True

    def release(self, order_id: UUID) -> int:
        """Give back the order's whole reservation; the units released (0: there was none)."""
        held = self.reservations.get(order_id, 0)
        if held:
            self.record(
                StockReleased(
                    sku=self.sku,
                    on_hand=self.on_hand,
                    reserved=self.reserved - held,
                    order_id=order_id,
                    quantity=held,
                )
            )
        return held

    def ship_out(self, order_id: UUID) -> int:
        """The order's reserved units leave: on hand and reserved both go down by them."""
        held = self.reservations.get(order_id, 0)
        if held:
            self.record(
                StockShippedOut(
                    sku=self.sku,
                    on_hand=self.on_hand - held,
                    reserved=self.reserved - held,
                    order_id=order_id,
                    quantity=held,
                )
            )
        return held

    def _require_exists(self) -> None:
        if not self.exists:
            raise NotFound(f"sku {self.sku or self.id!s} has no stock item")

    def _levels(self, event: StockEvent) -> None:
        self.sku, self.on_hand, self.reserved = event.sku, event.on_hand, event.reserved

    def _on_StockReceived(self, event: StockReceived) -> None:
        self._levels(event)

    def _on_StockAdjusted(self, event: StockAdjusted) -> None:
        self._levels(event)

    def _on_StockReserved(self, event: StockReserved) -> None:
        self._levels(event)
        self.reservations[event.order_id] = event.quantity

    def _on_StockReservationRefused(self, event: StockReservationRefused) -> None:
        self._levels(event)  # the same levels: the order's earlier reservation stays

    def _on_StockReleased(self, event: StockReleased) -> None:
        self._levels(event)
        self.reservations.pop(event.order_id, None)

    def _on_StockShippedOut(self, event: StockShippedOut) -> None:
        self._levels(event)
        self.reservations.pop(event.order_id, None)
