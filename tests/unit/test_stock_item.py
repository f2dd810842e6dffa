from uuid import uuid4

import pytest
from pydantic import ValidationError

from services.write.domain.commands import AdjustStock, ReceiveStock
from services.write.domain.errors import NotFound, StockRule
from services.write.domain.stock import StockItem
from shared.contracts.events import (
    StockAdjusted,
    StockEvent,
    StockReceived,
    StockReleased,
    StockReservationRefused,
    StockReserved,
    StockShippedOut,
    stock_stream_id,
)


def received(quantity: int, sku: str = "A-1") -> StockItem:
    item = StockItem.for_sku(sku)
    item.receive(ReceiveStock(quantity=quantity))
    return item


def levels(item: StockItem) -> tuple[int, int, int]:
    return item.on_hand, item.reserved, item.available


def assert_invariant(item: StockItem) -> None:
    assert 0 <= item.reserved <= item.on_hand
    assert item.reserved == sum(item.reservations.values())


def assert_replays(item: StockItem) -> None:
    """The events alone give the same item: every event carries the levels after it."""
    replayed = StockItem.rehydrate(item.id, item.pending)
    assert (replayed.sku, levels(replayed)) == (item.sku, levels(item))
    assert replayed.reservations == item.reservations
    last = item.pending[-1]
    assert isinstance(last, StockEvent)
    assert (last.sku, last.on_hand, last.reserved) == (item.sku, item.on_hand, item.reserved)


def test_first_receipt_creates_the_item_on_the_skus_stream() -> None:
    item = received(5)
    assert item.id == stock_stream_id("A-1") and item.exists and item.version == 1
    assert item.pending == [StockReceived(sku="A-1", on_hand=5, reserved=0, quantity=5)]
    item.receive(ReceiveStock(quantity=3))
    assert item.pending[-1] == StockReceived(sku="A-1", on_hand=8, reserved=0, quantity=3)
    assert levels(item) == (8, 0, 8)
    assert_replays(item)


def test_adjustments_move_on_hand_either_way() -> None:
    item = received(5)
    item.adjust(AdjustStock(quantity=-2, reason="broken"))
    item.adjust(AdjustStock(quantity=4, reason="count"))
    assert item.pending[-2:] == [
        StockAdjusted(sku="A-1", on_hand=3, reserved=0, quantity=-2, reason="broken"),
        StockAdjusted(sku="A-1", on_hand=7, reserved=0, quantity=4, reason="count"),
    ]
    assert_replays(item)


def test_an_adjustment_below_zero_is_refused() -> None:
    item = received(5)
    with pytest.raises(StockRule, match="below 0"):
        item.adjust(AdjustStock(quantity=-6, reason="count"))
    assert levels(item) == (5, 0, 5) and len(item.pending) == 1
    item.adjust(AdjustStock(quantity=-5, reason="count"))
    assert levels(item) == (0, 0, 0)


def test_an_adjustment_below_reserved_is_refused() -> None:
    item = received(5)
    item.reserve(uuid4(), 3)
    with pytest.raises(StockRule, match="reserved"):
        item.adjust(AdjustStock(quantity=-3, reason="count"))
    assert levels(item) == (5, 3, 2) and len(item.pending) == 2
    item.adjust(AdjustStock(quantity=-2, reason="count"))
    assert levels(item) == (3, 3, 0)
    assert_invariant(item)


def test_an_adjustment_of_zero_is_not_a_command() -> None:
    with pytest.raises(ValidationError):
        AdjustStock(quantity=0, reason="nothing")
    with pytest.raises(ValidationError):
        ReceiveStock(quantity=0)


def test_an_item_never_received_cannot_be_adjusted_or_reserved() -> None:
    item = StockItem.for_sku("NEW")
    with pytest.raises(NotFound):
        item.adjust(AdjustStock(quantity=1, reason="count"))
    with pytest.raises(NotFound):
        item.reserve(uuid4(), 1)
    assert item.pending == [] and not item.exists


def test_reserve_sets_the_orders_whole_reservation() -> None:
    item, order = received(10), uuid4()
    assert item.reserve(order, 4) is True
    assert item.pending[-1] == StockReserved(
        sku="A-1", on_hand=10, reserved=4, order_id=order, quantity=4
    )
    assert item.reserve(order, 6) is True  # grows by the difference only
    assert item.pending[-1] == StockReserved(
        sku="A-1", on_hand=10, reserved=6, order_id=order, quantity=6
    )
    assert item.reserve(order, 2) is True  # a decrease gives units back
    assert levels(item) == (10, 2, 8) and item.reservations == {order: 2}
    assert_invariant(item)
    assert_replays(item)


def test_reserve_again_with_the_same_quantity_records_nothing() -> None:
    item, order = received(10), uuid4()
    item.reserve(order, 4)
    version = item.version
    assert item.reserve(order, 4) is True
    assert item.version == version and len(item.pending) == 2


def test_a_refused_reservation_keeps_the_one_held() -> None:
    item, order, other = received(10), uuid4(), uuid4()
    item.reserve(other, 5)
    item.reserve(order, 3)
    assert item.reserve(order, 6) is False  # 3 more asked, 2 available
    assert item.pending[-1] == StockReservationRefused(
        sku="A-1", on_hand=10, reserved=8, order_id=order, quantity=6, available=2
    )
    assert item.reservations == {other: 5, order: 3} and levels(item) == (10, 8, 2)
    assert item.reserve(order, 5) is True  # exactly what is available
    assert levels(item) == (10, 10, 0)
    assert_invariant(item)
    assert_replays(item)


def test_a_first_reservation_larger_than_available_is_refused() -> None:
    item, order = received(2), uuid4()
    assert item.reserve(order, 3) is False
    assert item.reservations == {} and levels(item) == (2, 0, 2)
    with pytest.raises(ValueError):
        item.reserve(order, 0)


def test_release_gives_back_the_whole_reservation_once() -> None:
    item, order = received(10), uuid4()
    item.reserve(order, 4)
    assert item.release(order) == 4
    assert item.pending[-1] == StockReleased(
        sku="A-1", on_hand=10, reserved=0, order_id=order, quantity=4
    )
    version = item.version
    assert item.release(order) == 0 and item.version == version
    assert item.release(uuid4()) == 0 and item.version == version
    assert_replays(item)


def test_ship_out_takes_the_reserved_units_off_hand_once() -> None:
    item, order, other = received(10), uuid4(), uuid4()
    item.reserve(order, 4)
    item.reserve(other, 1)
    assert item.ship_out(order) == 4
    assert item.pending[-1] == StockShippedOut(
        sku="A-1", on_hand=6, reserved=1, order_id=order, quantity=4
    )
    version = item.version
    assert item.ship_out(order) == 0 and item.version == version
    assert levels(item) == (6, 1, 5) and item.reservations == {other: 1}
    assert_invariant(item)
    assert_replays(item)


def test_an_item_from_its_events_decides_as_the_original() -> None:
    item, order = received(3), uuid4()
    item.reserve(order, 3)
    replayed = StockItem.rehydrate(item.id, item.pending)
    assert replayed.reserve(uuid4(), 1) is False
    with pytest.raises(StockRule):
        replayed.adjust(AdjustStock(quantity=-1, reason="count"))
    assert replayed.ship_out(order) == 3 and levels(replayed) == (0, 0, 0)
