from collections.abc import Callable
from decimal import Decimal
from uuid import uuid4

import pytest

from services.write.domain.commands import (
    AddOrderItem,
    CancelOrder,
    PlaceOrder,
    RemoveOrderItem,
    ShipOrder,
)
from services.write.domain.errors import InvalidTransition, StockPending
from services.write.domain.order import Order, OrderStatus, StockState
from shared.contracts.events import (
    OrderCancelled,
    OrderItemAdded,
    OrderPlaced,
    OrderRejected,
    OrderStockReserved,
)

ADDRESS = {"line1": "1 Main St", "city": "Paris", "postal_code": "75001", "country": "FR"}


def placing(*skus: str) -> PlaceOrder:
    return PlaceOrder(
        customer_id=uuid4(),
        items=[{"sku": s, "name": s, "quantity": 2, "unit_price": "1.00"} for s in skus],
        shipping_address=ADDRESS,
        currency="EUR",
    )


def placed(*skus: str, tracked: tuple[str, ...] = ()) -> Order:
    order = Order(uuid4())
    order.place(placing(*skus), tracked)
    return order


def item(sku: str) -> AddOrderItem:
    return AddOrderItem(sku=sku, name=sku, quantity=1, unit_price=Decimal("1.00"))


def state(order: Order) -> StockState:
    return order.stock_state  # read anew: each command may change it


def replayed(order: Order) -> Order:
    return Order.rehydrate(order.id, order.pending)


def test_placement_records_the_tracked_skus_of_its_lines_only() -> None:
    order = placed("B", "A", "C", tracked=("C", "A", "Z"))
    event = order.pending[0]
    assert isinstance(event, OrderPlaced) and event.tracked == ["A", "C"]
    assert order.tracked == {"A", "C"} and state(order) is StockState.PENDING
    assert replayed(order).stock_state is StockState.PENDING


def test_an_order_of_untracked_skus_confirms_as_before() -> None:
    order = placed("A", tracked=("Z",))
    assert isinstance(order.pending[0], OrderPlaced) and order.pending[0].tracked == []
    assert state(order) is StockState.NOT_TRACKED
    order.confirm()
    assert order.status is OrderStatus.CONFIRMED


def test_confirm_waits_for_the_stock_then_goes_through() -> None:
    order = placed("A", "B", tracked=("A",))
    with pytest.raises(StockPending):
        order.confirm()
    assert len(order.pending) == 1
    order.mark_stock_reserved()
    assert order.pending[-1] == OrderStockReserved(skus=["A"])
    assert state(order) is StockState.RESERVED
    order.confirm()
    assert order.status is OrderStatus.CONFIRMED
    assert replayed(order).status is OrderStatus.CONFIRMED


def test_marking_reserved_twice_records_once_and_needs_tracked_lines() -> None:
    order = placed("A", tracked=("A",))
    order.mark_stock_reserved()
    order.mark_stock_reserved()
    assert len(order.pending) == 2
    with pytest.raises(InvalidTransition):
        placed("A").mark_stock_reserved()


def test_a_tracked_item_added_makes_the_stock_pending_again() -> None:
    order = placed("A", tracked=("A",))
    order.mark_stock_reserved()
    order.add_item(item("B"))  # untracked: the reservation still holds
    assert state(order) is StockState.RESERVED
    order.add_item(item("C"), tracked=True)
    assert order.pending[-1] == OrderItemAdded(
        sku="C", name="C", quantity=1, unit_price=Decimal("1.00"), tracked=True
    )
    assert state(order) is StockState.PENDING and order.tracked == {"A", "C"}
    with pytest.raises(StockPending):
        order.confirm()
    assert replayed(order).tracked == {"A", "C"}


def test_more_units_of_a_tracked_line_stay_tracked() -> None:
    order = placed("A", tracked=("A",))
    order.mark_stock_reserved()
    order.add_item(item("A"))  # the handler did not know: the line itself is tracked
    event = order.pending[-1]
    assert isinstance(event, OrderItemAdded) and event.tracked is True
    assert state(order) is StockState.PENDING


def test_an_untracked_order_becomes_pending_with_a_tracked_item() -> None:
    order = placed("A")
    order.add_item(item("B"), tracked=True)
    assert state(order) is StockState.PENDING


def test_removing_the_last_tracked_line_ends_the_tracking() -> None:
    order = placed("A", "B", "C", tracked=("A", "B"))
    order.remove_item(RemoveOrderItem(sku="A"))
    assert state(order) is StockState.PENDING and order.tracked == {"B"}
    order.remove_item(RemoveOrderItem(sku="B"))
    assert state(order) is StockState.NOT_TRACKED and order.tracked == set()
    order.confirm()
    assert replayed(order).status is OrderStatus.CONFIRMED


def test_a_rejected_order_is_terminal() -> None:
    order = placed("A", "B", tracked=("A", "B"))
    order.reject(["B", "A", "B"])
    assert order.pending[-1] == OrderRejected(reason="out_of_stock", skus=["A", "B"])
    assert order.status is OrderStatus.REJECTED
    commands: list[Callable[[], None]] = [
        lambda: order.confirm(),
        lambda: order.add_item(item("C")),
        lambda: order.remove_item(RemoveOrderItem(sku="A")),
        lambda: order.ship(ShipOrder(carrier="Post", tracking_number="T1")),
        lambda: order.cancel(CancelOrder()),
        lambda: order.reject(["A"]),
        lambda: order.mark_stock_reserved(),
        lambda: order.expire("late"),
    ]
    for command in commands:
        with pytest.raises(InvalidTransition):
            command()
    assert len(order.pending) == 2
    assert replayed(order).status is OrderStatus.REJECTED


def test_only_a_placed_order_is_rejected() -> None:
    order = placed("A")
    order.confirm()
    with pytest.raises(InvalidTransition):
        order.reject(["A"])


def test_expire_cancels_a_placed_order_never_a_confirmed_one() -> None:
    order = placed("A", tracked=("A",))
    order.expire("stock reservation expired after 1800 s unconfirmed")
    assert order.pending[-1] == OrderCancelled(
        reason="stock reservation expired after 1800 s unconfirmed"
    )
    assert order.status is OrderStatus.CANCELLED
    confirmed = placed("A", tracked=("A",))
    confirmed.mark_stock_reserved()
    confirmed.confirm()
    with pytest.raises(InvalidTransition):
        confirmed.expire("late")
    assert confirmed.status is OrderStatus.CONFIRMED


def test_events_of_before_stock_existed_read_as_untracked() -> None:
    event = OrderPlaced.model_validate(placed("A").pending[0].model_dump(exclude={"tracked"}))
    order = Order.rehydrate(uuid4(), [event, OrderItemAdded.model_validate(item("B").model_dump())])
    assert state(order) is StockState.NOT_TRACKED and order.tracked == set()
