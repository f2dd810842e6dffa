"""The fulfilment process on real PostgreSQL: reservations, refusals, compensation and
deadlines, driven directly (no HTTP), read back from the event store and the instances table."""

from datetime import datetime
from uuid import UUID

import pytest

from services.write.adapters.event_log import PostgresEventLog
from services.write.adapters.postgres import PostgresEventStore
from services.write.domain.commands import AddOrderItem, CancelOrder, RemoveOrderItem
from services.write.domain.errors import StockPending
from services.write.domain.order import OrderStatus, StockState
from shared.contracts.envelope import START
from shared.contracts.events import fulfilment_stream_id, stock_stream_id
from tests.background import in_background
from tests.polling import poll

from .fulfilment_shop import CORRELATION, CTX, Shop, count

PROCESS_ACTOR = {"subject": "process:fulfilment"}


@pytest.fixture
def shop(store: PostgresEventStore, pg_database: str) -> Shop:
    return Shop(store, pg_database)


async def test_an_order_within_the_stock_is_reserved_and_can_be_confirmed(shop: Shop) -> None:
    await shop.receive("A", 5)
    order_id = await shop.order(A=2, U=1)
    with pytest.raises(StockPending):
        await shop.handlers.confirm_order(order_id, CTX)
    await shop.process().catch_up()
    assert await shop.levels("A") == (5, 2)
    assert (await shop.stock("A")).reservations == {order_id: 2}
    order = await shop.the_order(order_id)
    assert order.stock_state is StockState.RESERVED
    assert (await shop.types(order_id))[-1] == "OrderStockReserved"
    instance = await shop.instance(order_id)
    assert (instance.state, instance.stage, instance.reservations) == (
        "active",
        "reserved",
        {"A": 2},
    )
    assert instance.deadline_at is not None and instance.version == 4
    assert await shop.process_types(order_id) == [
        "FulfilmentStarted",
        "LineReserved",
        "OrderMarkedReserved",
        "ReservationDeadlineSet",
    ]
    await shop.handlers.confirm_order(order_id, CTX)
    await shop.process().catch_up()
    assert (await shop.instance(order_id)).stage == "confirmed"


async def test_what_the_process_appends_names_it_the_order_and_the_event_it_handled(
    shop: Shop,
) -> None:
    await shop.receive("A", 5)
    order_id = await shop.order(A=2)
    await shop.process().catch_up()
    placed = (await shop.rows(order_id))[0]
    appended = [
        *(await shop.rows(stock_stream_id("A")))[1:],
        *(await shop.rows(order_id))[1:],
        *await shop.rows(fulfilment_stream_id(order_id)),
    ]
    assert len(appended) == 6
    for row in appended:
        metadata = row["metadata"]
        assert metadata["actor"] == PROCESS_ACTOR
        assert metadata["causation_id"] == str(placed["event_id"])
        assert metadata["correlation_id"] == CORRELATION


async def test_an_order_beyond_the_stock_is_refused_and_rejected(shop: Shop) -> None:
    await shop.receive("A", 3)
    order_id = await shop.order(A=10)
    await shop.process().catch_up()
    assert await shop.types(stock_stream_id("A")) == ["StockReceived", "StockReservationRefused"]
    assert await shop.levels("A") == (3, 0)
    order = await shop.the_order(order_id)
    assert order.status is OrderStatus.REJECTED
    instance = await shop.instance(order_id)
    assert (instance.state, instance.stage, instance.reservations) == (
        "completed",
        "rejected",
        {},
    )


async def test_one_short_line_releases_the_reserved_ones_then_rejects(shop: Shop) -> None:
    await shop.receive("A", 5)
    await shop.receive("B", 1)
    order_id = await shop.order(A=2, B=4)
    await shop.process().catch_up()
    assert await shop.types(stock_stream_id("A")) == [
        "StockReceived",
        "StockReserved",
        "StockReleased",
    ]
    assert await shop.levels("A") == (5, 0) and await shop.levels("B") == (1, 0)
    rejected = (await shop.rows(order_id))[-1]
    assert rejected["event_type"] == "OrderRejected"
    assert rejected["data"]["skus"] == ["B"]


async def test_items_added_and_removed_and_a_cancel_move_the_reservations(shop: Shop) -> None:
    await shop.receive("A", 5)
    await shop.receive("B", 5)
    order_id = await shop.order(A=2)
    process = shop.process()
    await process.catch_up()
    adding = AddOrderItem(sku="B", name="item B", quantity=3, unit_price="2.50")
    await shop.handlers.add_order_item(order_id, adding, CTX)
    await process.catch_up()
    assert await shop.levels("B") == (5, 3)
    assert (await shop.the_order(order_id)).stock_state is StockState.RESERVED
    await shop.handlers.remove_order_item(order_id, RemoveOrderItem(sku="A"), CTX)
    await process.catch_up()
    assert await shop.levels("A") == (5, 0)
    await shop.handlers.cancel_order(order_id, CancelOrder(reason="changed my mind"), CTX)
    await process.catch_up()
    assert await shop.levels("B") == (5, 0)
    assert (await shop.instance(order_id)).state == "completed"


async def deadline_of(shop: Shop, order_id: UUID) -> datetime:
    for row in await shop.rows(fulfilment_stream_id(order_id)):
        if row["event_type"] == "ReservationDeadlineSet":
            return datetime.fromisoformat(row["data"]["due_at"])
    raise AssertionError("no deadline was set")


async def test_an_unconfirmed_order_expires_once_across_a_restart_past_its_deadline(
    shop: Shop,
) -> None:
    await shop.receive("A", 5)
    order_id = await shop.order(A=2)
    async with in_background(shop.runner(ttl=3.0).run()):
        await poll(lambda: shop.instances.get(order_id), "the reservation", timeout=30)
    due = await deadline_of(shop, order_id)  # stopped, then past the deadline:
    await poll(lambda: shop.past(due), "the deadline to pass", timeout=30)
    assert (await shop.the_order(order_id)).status is OrderStatus.PLACED
    async with in_background(shop.runner(ttl=3.0).run()):

        async def done() -> bool:
            return (await shop.instance(order_id)).state == "completed"

        await poll(done, "the expiry", timeout=30)
    again = shop.process(ttl=3.0)
    await again.catch_up()
    await again.catch_up()
    order = await shop.the_order(order_id)
    assert order.status is OrderStatus.CANCELLED
    assert await count(shop, order_id, "OrderCancelled") == 1
    assert await count(shop, stock_stream_id("A"), "StockReleased") == 1
    assert await shop.levels("A") == (5, 0)
    instance = await shop.instance(order_id)
    assert (instance.stage, instance.deadline_at) == ("expired", None)
    cancelled = (await shop.rows(order_id))[-1]
    assert cancelled["data"]["reason"] == "stock reservation expired after 3 s unconfirmed"
    assert shop.observed.lateness and min(shop.observed.lateness) >= 0


async def test_a_confirmed_order_is_never_cancelled(shop: Shop) -> None:
    await shop.receive("A", 5)
    order_id = await shop.order(A=2)
    process = shop.process(ttl=1.0)
    await process.catch_up()
    await shop.handlers.confirm_order(order_id, CTX)
    await process.catch_up()
    due = await deadline_of(shop, order_id)
    await poll(lambda: shop.past(due), "the deadline to pass", timeout=30)
    await process.catch_up()
    await shop.process(ttl=1.0).catch_up()
    assert (await shop.the_order(order_id)).status is OrderStatus.CONFIRMED
    instance = await shop.instance(order_id)
    assert (instance.stage, instance.deadline_at) == ("confirmed", None)
    assert await shop.levels("A") == (5, 2)


async def test_a_batch_reads_past_untracked_orders_until_one_gains_a_tracked_line(
    shop: Shop,
) -> None:
    await shop.receive("A", 5)
    untracked, later = await shop.order(U=1), await shop.order(V=2)
    process = shop.process()
    await process.catch_up()
    assert await shop.instances.get(untracked) is None and await shop.instances.get(later) is None
    adding = AddOrderItem(sku="A", name="item A", quantity=3, unit_price="2.50")
    await shop.handlers.add_order_item(later, adding, CTX)
    async with shop.instances.work() as work:
        batch = await work.order_events(START, 100)
    assert [(e.stream_id, e.event_type) for e in batch.events] == [(later, "OrderItemAdded")]
    assert batch.next == (await PostgresEventLog(shop.pool).head()).cursor
    await process.catch_up()
    assert await shop.levels("A") == (5, 3)
    assert (await shop.instance(later)).stage == "reserved"
    assert await shop.instances.get(untracked) is None
