from decimal import Decimal
from uuid import UUID

import pytest

from services.write.application.handlers import CommandContext, CommandHandlers
from services.write.domain.commands import (
    AddOrderItem,
    AdjustStock,
    PlaceOrder,
    ReceiveStock,
    RegisterCustomer,
)
from services.write.domain.errors import NotFound, StockPending, StockRule
from services.write.domain.stock import StockItem
from shared.contracts.events import OrderItemAdded, OrderPlaced, StockReceived, stock_stream_id

from .fakes import FakeEventStore

ADDRESS = {"line1": "1 Main St", "city": "Paris", "postal_code": "75001", "country": "FR"}
CTX = CommandContext()


def line(sku: str) -> AddOrderItem:
    return AddOrderItem(sku=sku, name=sku, quantity=1, unit_price=Decimal("1.00"))


@pytest.fixture
def store() -> FakeEventStore:
    return FakeEventStore()


async def customer(handlers: CommandHandlers) -> UUID:
    return (
        await handlers.register_customer(RegisterCustomer(name="A", email="a@x.io"), CTX)
    ).stream_id


async def place(handlers: CommandHandlers, customer_id: UUID, *skus: str) -> UUID:
    command = PlaceOrder(
        customer_id=customer_id,
        items=[line(sku).model_dump() for sku in skus],
        shipping_address=ADDRESS,
        currency="EUR",
    )
    return (await handlers.place_order(command, CTX)).stream_id


def events(store: FakeEventStore, stream_id: UUID) -> list[object]:
    return list(store.streams[stream_id][1])


async def test_the_first_receipt_creates_the_item(store: FakeEventStore) -> None:
    handlers = CommandHandlers(store)
    first = await handlers.receive_stock("A", ReceiveStock(quantity=5), CTX)
    second = await handlers.receive_stock("A", ReceiveStock(quantity=2), CTX)
    assert first.stream_id == second.stream_id == stock_stream_id("A")
    assert (first.created, first.version, second.created, second.version) == (True, 1, False, 2)
    assert events(store, stock_stream_id("A"))[-1] == StockReceived(
        sku="A", on_hand=7, reserved=0, quantity=2
    )


async def test_receipts_on_two_replicas_both_count(store: FakeEventStore) -> None:
    here, there = CommandHandlers(store), CommandHandlers(store)
    await here.receive_stock("A", ReceiveStock(quantity=5), CTX)
    await there.receive_stock("A", ReceiveStock(quantity=1), CTX)
    result = await here.receive_stock("A", ReceiveStock(quantity=1), CTX)  # its cache is behind
    assert result.version == 3
    item = StockItem.rehydrate(result.stream_id, store.streams[result.stream_id][1])
    assert item.on_hand == 7


async def test_adjustments_need_an_item_and_keep_the_levels(store: FakeEventStore) -> None:
    handlers = CommandHandlers(store)
    with pytest.raises(NotFound):
        await handlers.adjust_stock("A", AdjustStock(quantity=1, reason="count"), CTX)
    await handlers.receive_stock("A", ReceiveStock(quantity=2), CTX)
    with pytest.raises(StockRule):
        await handlers.adjust_stock("A", AdjustStock(quantity=-3, reason="count"), CTX)
    result = await handlers.adjust_stock("A", AdjustStock(quantity=-2, reason="count"), CTX)
    assert (result.version, result.created) == (2, False)


async def test_a_customer_cannot_touch_stock(store: FakeEventStore) -> None:
    handlers = CommandHandlers(store)
    as_ada = CommandContext(subject="ada", customer_id=await customer(handlers))
    with pytest.raises(NotFound):
        await handlers.receive_stock("A", ReceiveStock(quantity=1), as_ada)
    await handlers.receive_stock("A", ReceiveStock(quantity=1), CTX)
    with pytest.raises(NotFound):
        await handlers.adjust_stock("A", AdjustStock(quantity=1, reason="x"), as_ada)
    assert len(events(store, stock_stream_id("A"))) == 1


async def test_a_receipt_replays_its_idempotency_key(store: FakeEventStore) -> None:
    handlers = CommandHandlers(store)
    ctx = CommandContext(idempotency_key="k", fingerprint="f")
    first = await handlers.receive_stock("A", ReceiveStock(quantity=5), ctx)
    again = await handlers.receive_stock("A", ReceiveStock(quantity=5), ctx)
    assert (again.version, again.created, again.replayed) == (1, True, True)
    assert first.version == 1 and len(events(store, stock_stream_id("A"))) == 1


async def test_orders_of_untracked_skus_cost_no_query(store: FakeEventStore) -> None:
    handlers = CommandHandlers(store)
    order_id = await place(handlers, await customer(handlers), "A", "B")
    await handlers.add_order_item(order_id, line("C"), CTX)
    placed, added = events(store, order_id)
    assert isinstance(placed, OrderPlaced) and placed.tracked == []
    assert isinstance(added, OrderItemAdded) and added.tracked is False
    assert store.tracking_queries == 0
    await handlers.confirm_order(order_id, CTX)


async def test_a_sku_received_here_is_tracked_at_once(store: FakeEventStore) -> None:
    handlers = CommandHandlers(store)
    await handlers.receive_stock("B", ReceiveStock(quantity=5), CTX)
    order_id = await place(handlers, await customer(handlers), "A", "B")
    placed = events(store, order_id)[0]
    assert isinstance(placed, OrderPlaced) and placed.tracked == ["B"]
    assert store.tracking_queries == 0
    with pytest.raises(StockPending):
        await handlers.confirm_order(order_id, CTX)


async def test_a_sku_tracked_on_another_replica_is_found_by_the_append(
    store: FakeEventStore,
) -> None:
    here, there = CommandHandlers(store), CommandHandlers(store)
    customer_id = await customer(here)
    order_id = await place(here, customer_id, "A")
    await there.receive_stock("B", ReceiveStock(quantity=5), CTX)
    await there.receive_stock("C", ReceiveStock(quantity=5), CTX)
    second = await place(here, customer_id, "B", "D")
    placed = events(store, second)
    assert len(placed) == 1 and isinstance(placed[0], OrderPlaced)
    assert placed[0].tracked == ["B"] and store.tracking_queries == 1
    await here.add_order_item(order_id, line("C"), CTX)
    added = events(store, order_id)[-1]
    assert isinstance(added, OrderItemAdded) and added.tracked is True
    assert store.tracking_queries == 2
    await place(here, customer_id, "B", "C")  # known here now
    assert store.tracking_queries == 2
