"""The events of a SKU's stock item (stream type `stock`, one stream per SKU)."""

from typing import ClassVar
from uuid import UUID

from shared.contracts.fields import (
    STOCK,
    DomainEvent,
    Quantity,
    Sku,
    StockChange,
    StockLevel,
    StreamType,
    Text,
)


class StockEvent(DomainEvent):
    """An event of a SKU's stock item, with the item's levels after it (a reader needs no
    history to know them)."""

    stream_type: ClassVar[StreamType] = STOCK
    sku: Sku
    on_hand: StockLevel
    reserved: StockLevel


class StockReceived(StockEvent):
    """Units arrived; the first receipt of a SKU starts tracking its stock."""

    quantity: Quantity


class StockAdjusted(StockEvent):
    """On hand corrected by `quantity` (signed): a count, breakage, a return."""

    quantity: StockChange
    reason: Text


class StockReserved(StockEvent):
    """`quantity` units now held for the order (its whole reservation of this SKU)."""

    order_id: UUID
    quantity: Quantity


class StockReservationRefused(StockEvent):
    """The order asked for `quantity` units; only `available` were free."""

    order_id: UUID
    quantity: Quantity
    available: StockLevel


class StockReleased(StockEvent):
    """The order's reservation of `quantity` units was given back."""

    order_id: UUID
    quantity: Quantity


class StockShippedOut(StockEvent):
    """The order's `quantity` reserved units left the warehouse (on hand went down)."""

    order_id: UUID
    quantity: Quantity
