"""A history with stock, written into the event store as the write service and its fulfilment
process would write it: stock items received, reserved, refused, released, shipped out and
adjusted; orders placed with tracked lines, reserved, rejected, changed, cancelled, shipped;
orders without stock beside them; and the process's own streams (stream type `fulfilment`),
which are in the log but never published.

Customers register through the command handlers; the rest is appended straight, one event per
transaction, in the order written here (the streams interleave). The history is given as the
read side gets it: the log's rows as `GET /events` serves them, and the Kafka records the relay
would publish for them.
"""

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID, uuid4

import orjson

from services.read.adapters.codec import from_record, from_rows
from services.read.application.ports import Delivered
from services.read.projections.base import Event
from services.write.adapters.postgres import PostgresEventStore
from services.write.application.handlers import CommandContext, CommandHandlers
from services.write.domain.commands import RegisterCustomer
from shared.contracts.cloudevents import to_headers
from shared.contracts.envelope import START, EventMetadata
from shared.contracts.events import (
    FULFILMENT,
    DomainEvent,
    OrderCancelled,
    OrderConfirmed,
    OrderItemAdded,
    OrderItemRemoved,
    OrderLine,
    OrderPlaced,
    OrderRejected,
    OrderShipped,
    OrderStockReserved,
    ShippingAddress,
    StockAdjusted,
    StockEvent,
    StockReceived,
    StockReleased,
    StockReservationRefused,
    StockReserved,
    StockShippedOut,
    StreamType,
    fulfilment_stream_id,
    stock_stream_id,
)
from shared.contracts.personal import subject_of, unseal
from tests.integration.projections.projecting import key_ring
from tests.unit.read_fakes import FakeKeyRing

Row = dict[str, Any]
PROCESS = "process:fulfilment"
ADDRESS = ShippingAddress(line1="2 Dock Rd", city="Leeds", postal_code="LS1", country="GB")
PRICES = {"APL": "1.25", "BRD": "3.40", "CHS": "7.99", "DTE": "0.35", "EGG": "2.10"}
CUSTOMERS = ["Ann", "Ben", "Cat"]


class FulfilmentStarted(DomainEvent):
    """The process's own events, as the write service records them (internal: not contracts)."""

    stream_type: ClassVar[StreamType] = FULFILMENT
    order_id: UUID
    rules: int


class LineReserved(DomainEvent):
    stream_type: ClassVar[StreamType] = FULFILMENT
    sku: str
    quantity: int


class FulfilmentCompleted(DomainEvent):
    stream_type: ClassVar[StreamType] = FULFILMENT
    stage: str


def line(sku: str, quantity: int) -> OrderLine:
    return OrderLine(sku=sku, name=sku.title(), quantity=quantity, unit_price=Decimal(PRICES[sku]))


@dataclass
class StockHistory:
    """The log as the read side gets it, and the ids of its customers, orders and SKUs."""

    rows: list[Row]  # `GET /events`, in commit order, the process's streams included
    records: list[Delivered]  # what the relay publishes: every row but the process's
    customers: list[str]
    orders: list[str]
    keys: FakeKeyRing  # the customers' keys, as the event store holds them
    skus: dict[str, str] = field(default_factory=dict)  # SKU -> its stock stream

    @property
    def events(self) -> list[Event]:
        """The events a rebuild folds: the feed's rows, the process's passed over."""
        return from_rows(self.rows, trusted=True).events

    @property
    def clear_rows(self) -> list[Row]:
        """The rows with their personal values opened, as a reader holding the keys sees them."""
        return [self._opened(row) for row in self.rows]

    def _opened(self, row: Row) -> Row:
        kind, data = row["event_type"], row["data"]
        subject = subject_of(kind, row["stream_type"], row["stream_id"], data)
        if subject is None:
            return row
        cipher = self.keys.ciphers.get(subject)
        return {
            **row,
            "data": unseal(data, kind, cipher, subject=subject, event_id=row["event_id"]),
        }

    @property
    def live_events(self) -> list[Event]:
        """The events the live consumers fold: the records, decoded."""
        return [from_record(record) for record in self.records]


class _Writer:
    def __init__(self, store: PostgresEventStore) -> None:
        self.store = store
        self.versions: dict[UUID, int] = {}
        self.levels: dict[str, tuple[int, int]] = {}  # SKU -> (on hand, reserved)

    async def append(self, stream: UUID, event: DomainEvent, actor: str) -> None:
        version = self.versions.get(stream, 0)
        metadata = EventMetadata(correlation_id=str(stream), actor={"subject": actor})
        await self.store.append(
            stream_type=event.stream_type,
            stream_id=stream,
            expected_version=version,
            events=[event],
            metadata=metadata,
        )
        self.versions[stream] = version + 1

    async def place(
        self, customer: UUID, lines: list[OrderLine], tracked: list[str], actor: str
    ) -> UUID:
        order = uuid4()
        total = sum((x.unit_price * x.quantity for x in lines), Decimal("0"))
        placed = OrderPlaced(
            customer_id=customer,
            items=lines,
            shipping_address=ADDRESS,
            currency="GBP",
            total=total,
            tracked=tracked,
        )
        await self.append(order, placed, actor)
        if tracked:
            await self.process(order, FulfilmentStarted(order_id=order, rules=1))
        return order

    async def process(self, order: UUID, event: DomainEvent) -> None:
        await self.append(fulfilment_stream_id(order), event, PROCESS)

    async def stock(
        self, sku: str, kind: type[StockEvent], on_hand: int, reserved: int, **data: Any
    ) -> None:
        self.levels[sku] = (on_hand, reserved)
        event = kind(sku=sku, on_hand=on_hand, reserved=reserved, **data)
        await self.append(stock_stream_id(sku), event, PROCESS if "order_id" in data else "clerk")

    async def reserve(self, order: UUID, sku: str, quantity: int) -> None:
        """The order's whole reservation of the SKU becomes `quantity` (it was none)."""
        on_hand, reserved = self.levels[sku]
        await self.stock(
            sku, StockReserved, on_hand, reserved + quantity, order_id=order, quantity=quantity
        )
        await self.process(order, LineReserved(sku=sku, quantity=quantity))

    async def release(self, order: UUID, sku: str, quantity: int) -> None:
        on_hand, reserved = self.levels[sku]
        await self.stock(
            sku, StockReleased, on_hand, reserved - quantity, order_id=order, quantity=quantity
        )


async def write_stock_history(store: PostgresEventStore) -> StockHistory:
    handlers, ctx = CommandHandlers(store), CommandContext()
    customers = []
    for name in CUSTOMERS:
        cmd = RegisterCustomer(name=name, email=f"{name.lower()}.{uuid4().hex[:6]}@stock.test")
        customers.append((await handlers.register_customer(cmd, ctx)).stream_id)
    ann, ben, cat = customers
    w = _Writer(store)
    await w.stock("APL", StockReceived, 10, 0, quantity=10)
    await w.stock("BRD", StockReceived, 1, 0, quantity=1)
    await w.stock("CHS", StockReceived, 5, 0, quantity=5)

    # 1: APL tracked, reserved, confirmed, shipped: the stock ships out with it
    o1 = await w.place(ann, [line("APL", 4), line("DTE", 2)], ["APL"], "ann")
    # 2: APL and BRD tracked, BRD short: APL released again, the order rejected
    o2 = await w.place(ben, [line("APL", 2), line("BRD", 3)], ["APL", "BRD"], "ben")
    await w.reserve(o1, "APL", 4)
    await w.reserve(o2, "APL", 2)
    await w.append(o1, OrderStockReserved(skus=["APL"]), PROCESS)
    await w.stock("BRD", StockReservationRefused, 1, 0, order_id=o2, quantity=3, available=1)
    await w.release(o2, "APL", 2)
    await w.append(o2, OrderRejected(reason="out_of_stock", skus=["BRD"]), PROCESS)
    await w.process(o2, FulfilmentCompleted(stage="rejected"))
    await w.append(o1, OrderConfirmed(), "ann")

    # 3: untracked, then a tracked item added (pending again), reserved, removed: not tracked
    o3 = await w.place(cat, [line("EGG", 1)], [], "cat")
    add = OrderItemAdded(**line("CHS", 2).model_dump(), tracked=True)
    await w.append(o3, add, "cat")
    await w.process(o3, FulfilmentStarted(order_id=o3, rules=1))
    await w.reserve(o3, "CHS", 2)
    await w.append(o3, OrderStockReserved(skus=["CHS"]), PROCESS)
    await w.append(o3, OrderItemRemoved(sku="CHS", quantity=2), "cat")
    await w.release(o3, "CHS", 2)

    # 4: CHS tracked, reserved, then cancelled by its customer: released
    o4 = await w.place(ann, [line("CHS", 1), line("EGG", 2)], ["CHS"], "ann")
    await w.reserve(o4, "CHS", 1)
    await w.append(o4, OrderStockReserved(skus=["CHS"]), PROCESS)
    await w.append(o4, OrderCancelled(reason="found it cheaper"), "ann")
    await w.release(o4, "CHS", 1)
    await w.process(o4, FulfilmentCompleted(stage="cancelled"))

    # 5: no stock at all, as orders were before: confirmed
    o5 = await w.place(ben, [line("DTE", 3), line("EGG", 1)], [], "ben")
    await w.append(o5, OrderConfirmed(), "ben")

    # 6: CHS tracked, reserved and still held (low stock)
    o6 = await w.place(cat, [line("CHS", 4)], ["CHS"], "cat")
    await w.reserve(o6, "CHS", 4)
    await w.append(o6, OrderStockReserved(skus=["CHS"]), PROCESS)

    await w.append(o3, OrderConfirmed(), "cat")
    await w.append(o1, OrderShipped(carrier="DPD", tracking_number="DPD-1"), "clerk")
    await w.stock("APL", StockShippedOut, 6, 0, order_id=o1, quantity=4)
    await w.process(o1, FulfilmentCompleted(stage="shipped"))
    await w.stock("APL", StockAdjusted, 5, 0, quantity=-1, reason="dropped")
    await w.stock("BRD", StockReceived, 5, 0, quantity=4)

    rows = [
        orjson.loads(orjson.dumps(r, default=str))
        for r in (await store.read_page(START, 10_000)).events
    ]
    records = [
        Delivered(
            f"{e.stream_type}.events",
            0,
            n,
            str(e.stream_id).encode(),
            orjson.dumps(e.data),
            tuple(to_headers(e, source="/write")),
            0,
        )
        for n, e in enumerate(await store.read_all(START, 10_000))
        if e.stream_type != FULFILMENT
    ]
    return StockHistory(
        rows,
        records,
        [str(c) for c in customers],
        [str(o) for o in (o1, o2, o3, o4, o5, o6)],
        await key_ring(store, customers),
        {sku: str(stock_stream_id(sku)) for sku in ("APL", "BRD", "CHS")},
    )
