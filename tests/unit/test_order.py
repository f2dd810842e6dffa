from decimal import Decimal
from uuid import uuid4

import pytest
from pydantic import ValidationError

from services.write.domain.commands import (
    AddOrderItem,
    CancelOrder,
    PlaceOrder,
    RemoveOrderItem,
    ShipOrder,
)
from services.write.domain.errors import DomainError, InvalidTransition, NotFound
from services.write.domain.order import Order, OrderStatus
from shared.contracts.events import OrderCancelled, OrderItemAdded, OrderPlaced

ADDRESS = {"line1": "1 Main St", "city": "Paris", "postal_code": "75001", "country": "FR"}


def place(*items: tuple[str, int, str]) -> PlaceOrder:
    return PlaceOrder(
        customer_id=uuid4(),
        items=[{"sku": s, "name": s, "quantity": q, "unit_price": p} for s, q, p in items],
        shipping_address=ADDRESS,
        currency="EUR",
    )


def placed_order(*items: tuple[str, int, str]) -> Order:
    order = Order(uuid4())
    order.place(place(*items or (("A", 1, "10.00"),)))
    return order


def test_place_records_total_exactly() -> None:
    order = placed_order(("A", 3, "0.10"), ("B", 1, "19.99"))
    event = order.pending[0]
    assert isinstance(event, OrderPlaced)
    assert event.total == Decimal("20.29")
    assert event.model_dump(mode="json")["total"] == "20.29"
    assert order.version == 1 and order.status is OrderStatus.PLACED


def test_place_merges_repeated_skus_and_refuses_two_prices() -> None:
    assert len(placed_order(("A", 1, "1.00"), ("A", 2, "1.00")).lines) == 1
    assert placed_order(("A", 1, "1.00"), ("A", 2, "1.00")).lines["A"].quantity == 3
    with pytest.raises(DomainError):
        placed_order(("A", 1, "1.00"), ("A", 2, "2.00"))


@pytest.mark.parametrize(
    "item",
    [
        {"sku": "A", "name": "a", "quantity": 0, "unit_price": "1.00"},
        {"sku": "A", "name": "a", "quantity": 1, "unit_price": "-1.00"},
        {"sku": "A", "name": "a", "quantity": 1, "unit_price": "1.001"},
        {"sku": "A", "name": "a", "quantity": 1, "unit_price": "abc"},
        {"sku": "A", "name": "a", "quantity": 1, "unit_price": "NaN"},
        {"sku": "", "name": "a", "quantity": 1, "unit_price": "1.00"},
    ],
)
def test_invalid_lines_are_refused(item: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        AddOrderItem.model_validate(item)


def test_place_requires_an_item_and_a_currency_code() -> None:
    with pytest.raises(ValidationError):
        place()
    with pytest.raises(ValidationError):
        PlaceOrder(customer_id=uuid4(), items=[], shipping_address=ADDRESS, currency="euro")


def test_adding_the_same_sku_adds_quantity() -> None:
    order = placed_order(("A", 1, "2.50"))
    order.add_item(AddOrderItem(sku="A", name="A", quantity=2, unit_price=Decimal("2.50")))
    assert order.lines["A"].quantity == 3
    assert order.total == Decimal("7.50")
    assert isinstance(order.pending[-1], OrderItemAdded)
    with pytest.raises(DomainError):
        order.add_item(AddOrderItem(sku="A", name="A", quantity=1, unit_price=Decimal("9.99")))


def test_remove_keeps_at_least_one_item() -> None:
    order = placed_order(("A", 1, "1.00"), ("B", 1, "1.00"))
    order.remove_item(RemoveOrderItem(sku="A"))
    assert list(order.lines) == ["B"]
    with pytest.raises(DomainError):
        order.remove_item(RemoveOrderItem(sku="B"))
    with pytest.raises(NotFound):
        order.remove_item(RemoveOrderItem(sku="Z"))


def test_lifecycle_and_forbidden_transitions() -> None:
    order = placed_order()
    with pytest.raises(InvalidTransition):
        order.ship(ShipOrder(carrier="UPS", tracking_number="1Z"))
    order.confirm()
    with pytest.raises(InvalidTransition):
        order.add_item(AddOrderItem(sku="B", name="B", quantity=1, unit_price=Decimal(1)))
    order.ship(ShipOrder(carrier="UPS", tracking_number="1Z"))
    assert order.status is OrderStatus.SHIPPED
    with pytest.raises(InvalidTransition, match="shipped"):
        order.cancel(CancelOrder(reason="too late"))
    assert order.version == 3


def test_cancel_from_placed_or_confirmed_only_once() -> None:
    order = placed_order()
    order.cancel(CancelOrder(reason="changed mind"))
    assert isinstance(order.pending[-1], OrderCancelled)
    with pytest.raises(InvalidTransition):
        order.cancel(CancelOrder())
    confirmed = placed_order()
    confirmed.confirm()
    confirmed.cancel(CancelOrder())
    assert confirmed.status is OrderStatus.CANCELLED


def test_rehydrate_gives_the_same_state() -> None:
    order = placed_order(("A", 2, "3.00"))
    order.add_item(AddOrderItem(sku="B", name="B", quantity=1, unit_price=Decimal("1.00")))
    order.confirm()
    again = Order.rehydrate(order.id, order.pending)
    assert (again.version, again.status, again.total) == (3, OrderStatus.CONFIRMED, Decimal("7.00"))
    assert again.pending == []
