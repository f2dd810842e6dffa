"""The event contracts of the domain, shared by the write service, the read service and consumers.

Each event is a frozen pydantic model; its type name is the class name and its schema version a
class variable. Changing an event's shape means a new schema version plus an upcaster in
`shared.contracts.serialization`.
"""

from typing import Annotated, ClassVar, Final, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

# The building blocks, re-exported: every contract is found here.
from shared.contracts.fields import (
    CURRENCIES as CURRENCIES,
    CUSTOMER as CUSTOMER,
    EMAIL_PATTERN as EMAIL_PATTERN,
    FULFILMENT as FULFILMENT,
    MAX_QUANTITY as MAX_QUANTITY,
    ORDER as ORDER,
    SKU_PATTERN as SKU_PATTERN,
    STOCK as STOCK,
    TEXT_PATTERN as TEXT_PATTERN,
    Contract as Contract,
    Currency as Currency,
    DomainEvent as DomainEvent,
    Email as Email,
    Name as Name,
    OrderLine as OrderLine,
    Quantity as Quantity,
    ShippingAddress as ShippingAddress,
    Sku as Sku,
    StockChange as StockChange,
    StockLevel as StockLevel,
    StreamType as StreamType,
    Text as Text,
    TrackingNumber as TrackingNumber,
    fulfilment_stream_id as fulfilment_stream_id,
    stock_stream_id as stock_stream_id,
    text as text,
)
from shared.contracts.money import Money
from shared.contracts.stock import (
    StockAdjusted as StockAdjusted,
    StockEvent as StockEvent,
    StockReceived as StockReceived,
    StockReleased as StockReleased,
    StockReservationRefused as StockReservationRefused,
    StockReserved as StockReserved,
    StockShippedOut as StockShippedOut,
)


class CustomerRegistered(DomainEvent):
    stream_type: ClassVar[StreamType] = CUSTOMER
    name: Name
    email: Email


class CustomerRenamed(DomainEvent):
    stream_type: ClassVar[StreamType] = CUSTOMER
    name: Name


class CustomerEmailChanged(DomainEvent):
    stream_type: ClassVar[StreamType] = CUSTOMER
    old_email: Email
    new_email: Email


class CustomerErased(DomainEvent):
    """The customer asked to be forgotten: their key is destroyed, so every personal value
    sealed under it (`fields`, wherever a copy of it is) can no longer be read. Consumers purge
    what they kept of the customer; the customer's orders stay, without personal data."""

    stream_type: ClassVar[StreamType] = CUSTOMER
    erased_at: AwareDatetime
    fields: Annotated[list[Annotated[str, Field(max_length=100)]], Field(max_length=50)]


class OrderPlaced(DomainEvent):
    stream_type: ClassVar[StreamType] = ORDER
    customer_id: UUID
    items: Annotated[list[OrderLine], Field(min_length=1, max_length=500)]
    shipping_address: ShippingAddress
    currency: Currency
    total: Money
    # The SKUs of its lines whose stock is tracked, at placement: their stock is reserved
    # before the order can be confirmed. Empty (and absent before stock existed): none.
    tracked: Annotated[list[Sku], Field(max_length=500)] = []


class OrderItemAdded(DomainEvent):
    stream_type: ClassVar[StreamType] = ORDER
    sku: Sku
    name: Name
    quantity: Quantity
    unit_price: Money
    # The SKU's stock is tracked: it is reserved before the order can be confirmed.
    tracked: bool = False


class OrderItemRemoved(DomainEvent):
    stream_type: ClassVar[StreamType] = ORDER
    sku: Sku
    quantity: Quantity


class OrderConfirmed(DomainEvent):
    stream_type: ClassVar[StreamType] = ORDER


class OrderShipped(DomainEvent):
    stream_type: ClassVar[StreamType] = ORDER
    carrier: Name
    tracking_number: TrackingNumber


class OrderCancelled(DomainEvent):
    stream_type: ClassVar[StreamType] = ORDER
    reason: Text


class OrderStockReserved(DomainEvent):
    """Every tracked line of the order is reserved (by the fulfilment process)."""

    stream_type: ClassVar[StreamType] = ORDER
    skus: Annotated[list[Sku], Field(min_length=1, max_length=500)]


class OrderRejected(DomainEvent):
    """The order could not be fulfilled (terminal); `skus` are the lines that were short."""

    stream_type: ClassVar[StreamType] = ORDER
    reason: Literal["out_of_stock"]
    skus: Annotated[list[Sku], Field(min_length=1, max_length=500)]


EVENT_TYPES: dict[str, type[DomainEvent]] = {
    cls.event_type(): cls
    for cls in (
        CustomerRegistered,
        CustomerRenamed,
        CustomerEmailChanged,
        CustomerErased,
        OrderPlaced,
        OrderItemAdded,
        OrderItemRemoved,
        OrderConfirmed,
        OrderShipped,
        OrderCancelled,
        OrderStockReserved,
        OrderRejected,
        StockReceived,
        StockAdjusted,
        StockReserved,
        StockReservationRefused,
        StockReleased,
        StockShippedOut,
    )
}

# The type names as consumers compare them (each class's `event_type()`).
CUSTOMER_REGISTERED: Final = CustomerRegistered.event_type()
CUSTOMER_RENAMED: Final = CustomerRenamed.event_type()
CUSTOMER_EMAIL_CHANGED: Final = CustomerEmailChanged.event_type()
CUSTOMER_ERASED: Final = CustomerErased.event_type()
ORDER_PLACED: Final = OrderPlaced.event_type()
ORDER_ITEM_ADDED: Final = OrderItemAdded.event_type()
ORDER_ITEM_REMOVED: Final = OrderItemRemoved.event_type()
ORDER_CONFIRMED: Final = OrderConfirmed.event_type()
ORDER_SHIPPED: Final = OrderShipped.event_type()
ORDER_CANCELLED: Final = OrderCancelled.event_type()
ORDER_STOCK_RESERVED: Final = OrderStockReserved.event_type()
ORDER_REJECTED: Final = OrderRejected.event_type()
STOCK_RECEIVED: Final = StockReceived.event_type()
STOCK_ADJUSTED: Final = StockAdjusted.event_type()
STOCK_RESERVED: Final = StockReserved.event_type()
STOCK_RESERVATION_REFUSED: Final = StockReservationRefused.event_type()
STOCK_RELEASED: Final = StockReleased.event_type()
STOCK_SHIPPED_OUT: Final = StockShippedOut.event_type()
