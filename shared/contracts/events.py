"""The event contracts of the domain, shared by the write service, the read service and consumers.

Each event is a frozen pydantic model; its type name is the class name and its schema version a
class variable. Changing an event's shape means a new schema version plus an upcaster in
`shared.contracts.serialization`.
"""

from typing import Annotated, Any, ClassVar, Final, Literal
from uuid import UUID

import iso4217
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)

from shared.contracts.money import Money

StreamType = Literal["customer", "order"]
CUSTOMER: Final = "customer"
ORDER: Final = "order"

# Text holds no control character (C0, C1) anywhere and at least one visible character; the
# limits are documented in the schemas. PostgreSQL text cannot hold U+0000 at all.
_CHAR = r"[^\x00-\x1f\x7f-\x9f]"
_VISIBLE = r"[^\s\x00-\x1f\x7f-\x9f]"
TEXT_PATTERN = rf"^{_CHAR}*{_VISIBLE}{_CHAR}*$"
_ADDRESS = r"[^@\s\x00-\x1f\x7f-\x9f]+"
EMAIL_PATTERN = rf"^{_ADDRESS}@{_ADDRESS}\.{_ADDRESS}$"
SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,63}$"
"""An SKU: letters, digits and `.`, `_`, `~`, `-` (a URL path segment as it is), 1 to 64."""
MAX_QUANTITY = 1_000_000
# Currencies with a minor unit: metals, funds, XTS and XXX are not prices.
CURRENCIES = tuple(sorted(c.code for c in iso4217.Currency if c.exponent is not None))


def text(max_length: int) -> Any:
    """A text field of at most `max_length` characters, surrounding whitespace stripped."""
    return StringConstraints(
        strip_whitespace=True, min_length=1, max_length=max_length, pattern=TEXT_PATTERN
    )


Name = Annotated[str, text(200)]
Email = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=254, pattern=EMAIL_PATTERN)
]
Sku = Annotated[str, StringConstraints(max_length=64, pattern=SKU_PATTERN)]


def _currency(code: str) -> str:
    if code not in _CURRENCY_SET:
        raise ValueError("must be an ISO 4217 currency code, such as EUR")
    return code


_CURRENCY_SET = frozenset(CURRENCIES)
Currency = Annotated[
    str,
    AfterValidator(_currency),
    WithJsonSchema({"type": "string", "enum": list(CURRENCIES), "description": "ISO 4217 code"}),
]
Text = Annotated[str, text(500)]
TrackingNumber = Annotated[str, text(100)]


def _a_json_number(value: Any) -> Any:
    # A JSON integer, or a number with no fractional part (JSON Schema's `integer` takes 2.0):
    # never a string ("2") nor a boolean, which pydantic alone would turn into one.
    if isinstance(value, str | bool):
        raise ValueError("must be a JSON integer")
    return value


Quantity = Annotated[int, Field(gt=0, le=MAX_QUANTITY), BeforeValidator(_a_json_number)]


class Contract(BaseModel):
    """Base of every contract model: immutable, strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class OrderLine(Contract):
    sku: Sku
    name: Name
    quantity: Quantity
    unit_price: Money


class ShippingAddress(Contract):
    line1: Text
    city: Name
    postal_code: Annotated[str, text(20)]
    country: Annotated[str, text(56)]


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
    quantity: Quantity
    unit_price: Money


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

# The type names as consumers compare them (each class's `event_type()`).
CUSTOMER_REGISTERED: Final = CustomerRegistered.event_type()
CUSTOMER_RENAMED: Final = CustomerRenamed.event_type()
CUSTOMER_EMAIL_CHANGED: Final = CustomerEmailChanged.event_type()
ORDER_PLACED: Final = OrderPlaced.event_type()
ORDER_ITEM_ADDED: Final = OrderItemAdded.event_type()
ORDER_ITEM_REMOVED: Final = OrderItemRemoved.event_type()
ORDER_CONFIRMED: Final = OrderConfirmed.event_type()
ORDER_SHIPPED: Final = OrderShipped.event_type()
ORDER_CANCELLED: Final = OrderCancelled.event_type()
