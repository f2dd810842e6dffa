"""The event contracts of the domain, shared by the write service, the read service and consumers.

Each event is a frozen pydantic model; its type name is the class name and its schema version a
class variable. Changing an event's shape means a new schema version plus an upcaster in
`shared.serialization`.
"""

from decimal import Decimal
from typing import Annotated, ClassVar, Final, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.money import Money

StreamType = Literal["customer", "order"]
CUSTOMER: Final = "customer"
ORDER: Final = "order"

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
]
Sku = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class Contract(BaseModel):
    """Base of every contract model: immutable, strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class OrderLine(Contract):
    sku: Sku
    name: Name
    quantity: Annotated[int, Field(gt=0, le=1_000_000)]
    unit_price: Annotated[Money, Field(ge=Decimal("0"))]


class ShippingAddress(Contract):
    line1: Text
    city: Name
    postal_code: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)
    ]
    country: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=56)]


class DomainEvent(Contract):
    """An event's data; the envelope (ids, versions, positions, times) travels beside it."""

    stream_type: ClassVar[StreamType]
    schema_version: ClassVar[int] = 1

    @classmethod
    def event_type(cls) -> str:
        return cls.__name__


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


class OrderPlaced(DomainEvent):
    stream_type: ClassVar[StreamType] = ORDER
    customer_id: UUID
    items: Annotated[list[OrderLine], Field(min_length=1, max_length=500)]
    shipping_address: ShippingAddress
    currency: Currency
    total: Money


class OrderItemAdded(DomainEvent):
    stream_type: ClassVar[StreamType] = ORDER
    sku: Sku
    name: Name
    quantity: Annotated[int, Field(gt=0)]
    unit_price: Annotated[Money, Field(ge=Decimal("0"))]


class OrderItemRemoved(DomainEvent):
    stream_type: ClassVar[StreamType] = ORDER
    sku: Sku
    quantity: Annotated[int, Field(gt=0)]


class OrderConfirmed(DomainEvent):
    stream_type: ClassVar[StreamType] = ORDER


class OrderShipped(DomainEvent):
    stream_type: ClassVar[StreamType] = ORDER
    carrier: Name
    tracking_number: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
    ]


class OrderCancelled(DomainEvent):
    stream_type: ClassVar[StreamType] = ORDER
    reason: Text


EVENT_TYPES: dict[str, type[DomainEvent]] = {
    cls.event_type(): cls
    for cls in (
        CustomerRegistered,
        CustomerRenamed,
        CustomerEmailChanged,
        OrderPlaced,
        OrderItemAdded,
        OrderItemRemoved,
        OrderConfirmed,
        OrderShipped,
        OrderCancelled,
    )
}
