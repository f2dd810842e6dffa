"""Commands: what a client asks for. Validated on the way in, decided on by the aggregates."""

from uuid import UUID

from pydantic import Field

from shared.contracts.events import (
    Contract,
    Currency,
    Email,
    Name,
    OrderLine,
    Quantity,
    ShippingAddress,
    Sku,
    StockChange,
    Text,
    TrackingNumber,
)


class RegisterCustomer(Contract):
    name: Name
    email: Email


class RenameCustomer(Contract):
    name: Name


class ChangeCustomerEmail(Contract):
    email: Email


class PlaceOrder(Contract):
    customer_id: UUID
    items: list[OrderLine] = Field(min_length=1, max_length=500)
    shipping_address: ShippingAddress
    currency: Currency


class AddOrderItem(OrderLine):
    pass


class RemoveOrderItem(Contract):
    sku: Sku


class ConfirmOrder(Contract):
    pass


class ShipOrder(Contract):
    carrier: Name
    tracking_number: TrackingNumber


class CancelOrder(Contract):
    reason: Text | None = None


class ReceiveStock(Contract):
    quantity: Quantity


class AdjustStock(Contract):
    quantity: StockChange
    reason: Text
