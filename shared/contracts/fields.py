"""The building blocks of the contracts: stream types, the constrained field types (text, SKU,
money, quantities, stock levels), and the base classes of commands and events."""

import functools
from typing import Annotated, Any, ClassVar, Final, Literal
from uuid import UUID, uuid5

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

StreamType = Literal["customer", "order", "stock", "fulfilment"]
CUSTOMER: Final = "customer"
ORDER: Final = "order"
STOCK: Final = "stock"
# The fulfilment process's own streams: internal to the write service, never published.
FULFILMENT: Final = "fulfilment"

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
# Units of a SKU in stock (on hand, reserved, available): never negative.
StockLevel = Annotated[int, Field(ge=0), BeforeValidator(_a_json_number)]
# A change of what is on hand: either way, never zero.
StockChange = Annotated[
    int,
    Field(ge=-MAX_QUANTITY, le=MAX_QUANTITY),
    BeforeValidator(_a_json_number),
    AfterValidator(lambda n: _nonzero(n)),
]


def _nonzero(value: int) -> int:
    if value == 0:
        raise ValueError("must not be 0")
    return value


# Stock streams are named by their SKU: the same SKU is the same stream on every replica.
_STOCK_NAMESPACE = UUID("6f1c2b0e-6a43-5b8e-9d2f-0c1e7d3a5b91")
_FULFILMENT_NAMESPACE = UUID("2d4e8a61-93f0-5c7b-a1e6-4b9d0c8f7e25")


@functools.lru_cache(maxsize=65_536)  # every order line asks: a SHA-1 saved per line
def stock_stream_id(sku: str) -> UUID:
    """The stream of a SKU's stock item (UUID v5 of the SKU, which is case-sensitive)."""
    return uuid5(_STOCK_NAMESPACE, sku)


def fulfilment_stream_id(order_id: UUID) -> UUID:
    """The stream of an order's fulfilment process (UUID v5 of the order's id)."""
    return uuid5(_FULFILMENT_NAMESPACE, str(order_id))


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
