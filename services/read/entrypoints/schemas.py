"""The read API's answers, as documentation: the routes serve raw JSON (orjson), these models only
describe it in the OpenAPI document, so no answer pays for a validation.

They follow the projections' documents (services/read/projections/) as `public()` shows them:
`_id` as `id`, no `_` fields, times as ISO 8601 strings in UTC, money as strings.
"""

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.events import SKU_PATTERN, Currency, Email
from shared.contracts.money import AMOUNT_PATTERN
from shared.contracts.orders import StockState
from shared.plumbing.http import problem_responses

from ..queries.orders import OrderStatus

Price = Annotated[str, Field(pattern=AMOUNT_PATTERN, examples=["19.90"])]
# Sums have exactly two decimals and no bound on their digits.
Amount = Annotated[str, Field(pattern=r"^[0-9]+\.[0-9]{2}$", examples=["39.80"])]
Version = Annotated[int, Field(ge=0)]
Count = Annotated[int, Field(ge=0)]


class Answer(BaseModel):
    """Every documented field is served, and nothing else."""

    model_config = ConfigDict(extra="forbid")


class OrderItem(Answer):
    sku: str
    name: str
    quantity: Annotated[int, Field(gt=0)]
    unit_price: Price
    line_total: Amount


ERASED = "null once the customer was erased"


class ShippingAddress(Answer):
    line1: str | None = Field(description=ERASED)
    city: str | None = Field(description=ERASED)
    postal_code: str | None = Field(description=ERASED)
    country: str


class StatusChange(Answer):
    status: OrderStatus
    at: datetime
    version: Version
    by: str | None = Field(
        default=None,
        description="who made the change: the subject of the token of the command; absent when"
        " the event records no actor (written before actors were recorded)",
    )


class OrderStock(Answer):
    state: StockState = Field(
        description="pending: a tracked line awaits its stock; reserved: every tracked line's"
        " stock is held for the order; not_tracked: none of its lines is tracked any more"
    )


class Rejection(Answer):
    reason: Literal["out_of_stock"]
    skus: list[str] = Field(description="the SKUs whose stock was short")


class Order(Answer):
    """One order with its customer's name and email as last seen (null until the customer's
    registration reached this projection, and once the customer was erased)."""

    id: UUID
    order_id: UUID
    version: Annotated[int, Field(ge=1)]
    customer_id: UUID
    customer_name: str | None
    customer_email: str | None
    customer_version: Version
    currency: Currency
    items: list[OrderItem]
    shipping_address: ShippingAddress
    carrier: str | None
    tracking_number: str | None
    cancel_reason: str | None
    rejection: Rejection | None = Field(
        default=None, description="why the order was rejected; absent unless it was"
    )
    stock: OrderStock | None = Field(
        default=None,
        description="the stock of its tracked lines; absent when none of its lines was ever"
        " tracked (not_tracked)",
    )
    placed_at: datetime
    status_history: list[StatusChange]
    status: OrderStatus
    updated_at: datetime
    total: Amount
    item_count: Count
    erased: bool = Field(
        default=False,
        description="true once its customer was erased: no name, email, street, city or postal"
        " code left (items, totals and statuses stay); absent otherwise",
    )


class OrderPage(Answer):
    orders: list[Order]
    next_cursor: str | None = Field(description="pass it as `cursor` for the next page")


class EmailChange(Answer):
    email: Email
    changed_at: datetime
    version: Version


class Customer(Answer):
    """A registered customer, with totals over all their orders (value: neither cancelled nor
    rejected). An erased customer keeps their id, dates and totals, and nothing personal."""

    id: UUID
    customer_id: UUID
    name: str | None = Field(description=ERASED)
    email: Email | None = Field(description=ERASED)
    email_lower: Email | None = Field(description=ERASED)
    email_history: list[EmailChange] = Field(description="empty once the customer was erased")
    registered_at: datetime
    updated_at: datetime
    version: Annotated[int, Field(ge=1)]
    order_count: Count
    lifetime_value: Amount
    erased: bool = Field(default=False, description="true once erased; absent otherwise")
    erased_at: datetime | None = Field(
        default=None, description="when the customer was erased; absent unless erased"
    )


class Customers(Answer):
    customers: list[Customer]


class ProductSales(Answer):
    sku: str
    name: str
    units: Count
    revenue: Amount


class Day(Answer):
    """One UTC day of placement; revenue and averages over the orders not cancelled (a rejected
    order counts as cancelled)."""

    id: date
    day: date
    orders_placed: Count
    orders_cancelled: Count
    revenue: Amount
    average_order_value: Amount
    units: Count
    products: list[ProductSales]


class DailyStats(Answer):
    days: list[Day]


class TopProducts(Answer):
    model_config = ConfigDict(populate_by_name=True)

    products: list[ProductSales]
    start: date = Field(alias="from")
    end: date = Field(alias="to")


class StockItem(Answer):
    """A tracked SKU's units: on hand, held for orders (reserved), and free to reserve
    (available: on hand less reserved)."""

    sku: Annotated[str, Field(pattern=SKU_PATTERN, max_length=64)]
    on_hand: Count
    reserved: Count
    available: Count
    version: Annotated[int, Field(ge=1)]


class StockPage(Answer):
    items: list[StockItem]
    next_cursor: str | None = Field(description="pass it as `cursor` for the next page")


# -- what the routes document besides their 200 -------------------------------------------------


def _header(description: str) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "string"}}


RETRY_AFTER = {"Retry-After": _header("seconds to wait before trying again")}
CACHE_CONTROL = {"Cache-Control": _header("how long the answer may be reused")}
NO_STORE = {"Cache-Control": _header("`no-store`: the answer changes as projections catch up")}
REVALIDATE = {
    "ETag": _header("changes whenever what is shown changes; send it back in If-None-Match"),
    "Cache-Control": _header("`private, no-cache`: keep it, but revalidate with If-None-Match"),
}
NOT_MODIFIED = {
    "description": "Not modified: the ETag given is still current",
    "headers": REVALIDATE,
}
STORE_DOWN = "MongoDB unavailable; retry later"


def responses(
    *statuses: int, ok: dict[str, Any] | None = None, **described: str
) -> dict[int | str, dict[str, Any]]:
    """A route's `responses`: problem+json for the error `statuses` and a 503 (MongoDB
    unavailable, with Retry-After; `s404="..."` describes a status its own way), 304 when
    listed, and the 200's headers."""
    described = {"s503": STORE_DOWN, **described}
    documented = problem_responses(*(s for s in statuses if s != 304), **described)
    documented[503]["headers"] = RETRY_AFTER
    if 304 in statuses:
        documented[304] = NOT_MODIFIED
    if ok is not None:
        documented[200] = {"headers": ok}
    return dict(sorted(documented.items(), key=lambda entry: int(entry[0])))
