"""A shop on real PostgreSQL for the fulfilment process's tests: customers, stock and orders
made through the command handlers, the process driven directly, and what it left read back."""

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from services.write.adapters.fulfilment_store import FULFILMENT_LOCK, PostgresFulfilmentStore
from services.write.adapters.postgres import PostgresEventStore
from services.write.adapters.relay_support import PostgresLeadership
from services.write.application.fulfilment.ports import InstanceRecord, Lag
from services.write.application.fulfilment.runner import (
    Fulfilment,
    FulfilmentPace,
    FulfilmentRunner,
)
from services.write.application.handlers import CommandContext, CommandHandlers
from services.write.domain.commands import PlaceOrder, ReceiveStock, RegisterCustomer
from services.write.domain.order import Order
from services.write.domain.stock import StockItem
from shared.contracts.envelope import EventMetadata
from shared.contracts.events import fulfilment_stream_id, stock_stream_id

ADDRESS = {"line1": "1 Main St", "city": "Paris", "postal_code": "75001", "country": "FR"}
CORRELATION = "order-flow-1"
CTX = CommandContext(
    metadata=EventMetadata(correlation_id=CORRELATION, actor={"subject": "clerk-1"})
)


class Observed:
    """A FulfilmentObserver that keeps what it was told."""

    def __init__(self) -> None:
        self.commands: list[str] = []
        self.lateness: list[float] = []
        self.suspensions: list[tuple[UUID, str]] = []
        self.lags: list[Lag] = []
        self.leader: list[bool] = []

    def leading(self, leader: bool) -> None:
        self.leader.append(leader)

    def issued(self, command: str) -> None:
        self.commands.append(command)

    def deadline_fired(self, lateness: float) -> None:
        self.lateness.append(lateness)

    def suspended(self, order_id: UUID, error: str) -> None:
        self.suspensions.append((order_id, error))

    def lag(self, lag: Lag) -> None:
        self.lags.append(lag)

    def interrupted(self, error: BaseException) -> None:
        pass


class Shop:
    """The event store, the command handlers and the process's store over one database."""

    def __init__(self, store: PostgresEventStore, dsn: str) -> None:
        self.store = store
        self.dsn = dsn
        self.handlers = CommandHandlers(store)
        self.instances = PostgresFulfilmentStore(store.pool)
        self.observed = Observed()
        self._customer: UUID | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        return self.store.pool

    def process(self, ttl: float = 1800.0, batch_size: int = 100) -> Fulfilment:
        pace = FulfilmentPace(batch_size=batch_size, reservation_ttl_seconds=ttl)
        return Fulfilment(self.instances, pace=pace, observer=self.observed)

    def runner(self, ttl: float = 1800.0) -> FulfilmentRunner:
        return FulfilmentRunner(
            store=self.instances,
            leaderships=functools.partial(PostgresLeadership, self.dsn, FULFILMENT_LOCK),
            pace=FulfilmentPace(batch_size=100, poll_seconds=0.1, reservation_ttl_seconds=ttl),
            observer=self.observed,
        )

    async def receive(self, sku: str, quantity: int) -> None:
        await self.handlers.receive_stock(sku, ReceiveStock(quantity=quantity), CTX)

    async def order(self, **lines: int) -> UUID:
        """An order of `lines` (SKU: quantity) for the shop's one customer."""
        if self._customer is None:
            registering = RegisterCustomer(name="Ada", email="ada@example.com")
            self._customer = (await self.handlers.register_customer(registering, CTX)).stream_id
        items = [
            {"sku": sku, "name": f"item {sku}", "quantity": quantity, "unit_price": "2.50"}
            for sku, quantity in lines.items()
        ]
        placing = PlaceOrder(
            customer_id=self._customer, items=items, shipping_address=ADDRESS, currency="EUR"
        )
        return (await self.handlers.place_order(placing, CTX)).stream_id

    async def stock(self, sku: str) -> StockItem:
        loaded = await self.store.load(stock_stream_id(sku))
        item = StockItem.rehydrate(stock_stream_id(sku), loaded.events)
        assert 0 <= item.reserved <= item.on_hand
        assert item.reserved == sum(item.reservations.values())
        return item

    async def levels(self, sku: str) -> tuple[int, int]:
        item = await self.stock(sku)
        return item.on_hand, item.reserved

    async def the_order(self, order_id: UUID) -> Order:
        return Order.rehydrate(order_id, (await self.store.load(order_id)).events)

    async def types(self, stream_id: UUID) -> list[str]:
        rows = await self.pool.fetch(
            "SELECT event_type FROM events WHERE stream_id = $1 ORDER BY version", stream_id
        )
        return [r["event_type"] for r in rows]

    async def process_types(self, order_id: UUID) -> list[str]:
        return await self.types(fulfilment_stream_id(order_id))

    async def rows(self, stream_id: UUID) -> list[dict[str, Any]]:
        found = await self.pool.fetch(
            "SELECT event_id, event_type, data, metadata FROM events WHERE stream_id = $1"
            " ORDER BY version",
            stream_id,
        )
        return [dict(r) for r in found]

    async def instance(self, order_id: UUID) -> InstanceRecord:
        record = await self.instances.get(order_id)
        assert record is not None, f"no instance for order {order_id}"
        return record

    async def db_now(self) -> datetime:
        value: datetime = await self.pool.fetchval("SELECT now()")
        return value

    async def past(self, moment: datetime) -> bool:
        return bool(await self.pool.fetchval("SELECT now() > $1", moment))


async def count(shop: Shop, stream_id: UUID, event_type: str) -> int:
    return sum(1 for t in await shop.types(stream_id) if t == event_type)


async def reservations_of(shop: Shop, sku: str, orders: Sequence[UUID]) -> dict[UUID, int]:
    """How many StockReserved events the SKU's stream holds for each order."""
    counts = dict.fromkeys(orders, 0)
    for row in await shop.rows(stock_stream_id(sku)):
        if row["event_type"] == "StockReserved":
            counts[UUID(row["data"]["order_id"])] += 1
    return counts
