"""Histories of customers and orders written into the event store, for tests that need events.

`write_history` writes a `Shape` through the command handlers, or straight into the store
(multi-event appends: the same events, written much faster), or both: commands for each
aggregate's first event and its last steps, the item additions in between appended straight.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, TypeVar
from uuid import UUID, uuid4

from services.write.adapters.migrations import migrate
from services.write.adapters.postgres import PostgresEventStore, create_pool
from services.write.application.handlers import CommandContext, CommandHandlers
from services.write.domain.commands import (
    AddOrderItem,
    CancelOrder,
    PlaceOrder,
    RegisterCustomer,
    RenameCustomer,
)
from shared.contracts.envelope import EventMetadata
from shared.contracts.events import (
    CustomerRegistered,
    DomainEvent,
    OrderCancelled,
    OrderConfirmed,
    OrderItemAdded,
    OrderLine,
    OrderPlaced,
    ShippingAddress,
)
from tests import stores

ADDRESS = ShippingAddress(line1="1 Main St", city="Paris", postal_code="75001", country="FR")
REASON = "changed my mind"
Straight = Literal["nothing", "additions", "everything"]
T = TypeVar("T")


def one_widget(order: int, k: int) -> OrderLine:
    """Every line of every order: one unit of SKU A at 2.00."""
    return OrderLine(sku="A", name="A", quantity=1, unit_price=Decimal("2.00"))


def no_steps(order: int) -> Sequence[str]:
    return ()


@dataclass(frozen=True)
class Shape:
    """What a history holds. Order n is placed with `line(n, 0)`..`line(n, placed - 1)`, then
    gets `adds` more lines, then takes `then(n)`'s steps: "add" (one more line), "confirm",
    "cancel", or "rename" (its customer; through commands only).

    Without `owners`, each customer places one order right after registering; with them, every
    customer registers first, then order n is placed by customer `owners[n]`."""

    customers: int
    adds: int = 0
    placed: int = 1
    line: Callable[[int, int], OrderLine] = one_widget
    then: Callable[[int], Sequence[str]] = no_steps
    owners: Sequence[int] | None = None


@contextlib.asynccontextmanager
async def event_store(url: str, *, connections: int = 16) -> AsyncIterator[PostgresEventStore]:
    """The event store of the PostgreSQL database at `url`, migrated."""
    pool = await create_pool(url, min_size=1, max_size=connections)
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
        yield stores.event_store(pool)
    finally:
        await pool.close()


async def write_history(
    store: PostgresEventStore,
    shape: Shape,
    *,
    straight: Straight = "nothing",
    batch: int = 1,
    concurrency: int = 1,
    context: CommandContext | None = None,
    metadata: Callable[[], EventMetadata] = EventMetadata,
) -> None:
    """Write `shape`: `straight` says which events skip the commands (appended `batch` to a
    transaction, each with `metadata()`); `concurrency` customers or orders at a time."""
    writer = _Writer(store, shape, straight, batch, context or CommandContext(), metadata)
    if shape.owners is None:
        await _gather(concurrency, [writer.customer_with_order(n) for n in range(shape.customers)])
        return
    customers = await _gather(concurrency, [writer.register(n) for n in range(shape.customers)])
    owners = [customers[c] for c in shape.owners]
    await _gather(concurrency, [writer.order(n, c) for n, c in enumerate(owners)])


async def _gather(concurrency: int, works: list[Awaitable[T]]) -> list[T]:
    gate = asyncio.Semaphore(concurrency)

    async def gated(work: Awaitable[T]) -> T:
        async with gate:
            return await work

    return await asyncio.gather(*(gated(work) for work in works))


class _Writer:
    def __init__(
        self,
        store: PostgresEventStore,
        shape: Shape,
        straight: Straight,
        batch: int,
        context: CommandContext,
        metadata: Callable[[], EventMetadata],
    ) -> None:
        self.store, self.shape, self.straight, self.batch = store, shape, straight, batch
        self.handlers, self.context, self.metadata = CommandHandlers(store), context, metadata

    async def customer_with_order(self, n: int) -> None:
        await self.order(n, await self.register(n))

    async def register(self, n: int) -> UUID:
        name, email = f"Customer {n}", f"c{n}.{uuid4().hex[:6]}@history.test"
        if self.straight == "everything":
            customer_id = uuid4()
            await self.append(
                "customer", customer_id, 0, [CustomerRegistered(name=name, email=email)]
            )
            return customer_id
        cmd = RegisterCustomer(name=name, email=email)
        return (await self.handlers.register_customer(cmd, self.context)).stream_id

    async def order(self, n: int, customer_id: UUID) -> None:
        shape = self.shape
        lines = [shape.line(n, k) for k in range(shape.placed + shape.adds)]
        placed, added = lines[: shape.placed], lines[shape.placed :]
        if self.straight == "everything":
            steps = [self.step_event(n, len(lines) + i, s) for i, s in enumerate(shape.then(n))]
            events = [_placed(customer_id, placed), *map(_added, added), *steps]
            await self.append("order", uuid4(), 0, events)
            return
        order_id = await self.place_and_add(customer_id, placed, added)
        for i, step in enumerate(shape.then(n)):
            await self.step(n, len(lines) + i, step, order_id, customer_id)

    async def place_and_add(
        self, customer_id: UUID, placed: list[OrderLine], added: list[OrderLine]
    ) -> UUID:
        cmd = PlaceOrder(
            customer_id=customer_id, items=placed, shipping_address=ADDRESS, currency="EUR"
        )
        order = await self.handlers.place_order(cmd, self.context)
        if self.straight == "additions":
            await self.append("order", order.stream_id, order.version, [_added(x) for x in added])
            return order.stream_id
        for x in added:
            add = AddOrderItem(**x.model_dump())
            await self.handlers.add_order_item(order.stream_id, add, self.context)
        return order.stream_id

    def step_event(self, n: int, k: int, step: str) -> DomainEvent:
        if step == "add":
            return _added(self.shape.line(n, k))
        if step == "confirm":
            return OrderConfirmed()
        if step == "cancel":
            return OrderCancelled(reason=REASON)
        raise ValueError(f"{step!r} is written through commands only")

    async def step(self, n: int, k: int, step: str, order_id: UUID, customer_id: UUID) -> None:
        handlers, ctx = self.handlers, self.context
        if step == "add":
            await handlers.add_order_item(
                order_id, AddOrderItem(**self.shape.line(n, k).model_dump()), ctx
            )
        elif step == "confirm":
            await handlers.confirm_order(order_id, ctx)
        elif step == "cancel":
            await handlers.cancel_order(order_id, CancelOrder(reason=REASON), ctx)
        elif step == "rename":
            await handlers.rename_customer(customer_id, RenameCustomer(name=f"Renamed {n}"), ctx)
        else:
            raise ValueError(f"unknown step {step!r}")

    async def append(
        self, stream_type: str, stream_id: UUID, version: int, events: list[DomainEvent]
    ) -> None:
        for start in range(0, len(events), self.batch):
            chunk = events[start : start + self.batch]
            await self.store.append(
                stream_type=stream_type,
                stream_id=stream_id,
                expected_version=version + start,
                events=chunk,
                metadata=self.metadata(),
            )


def _placed(customer_id: UUID, lines: list[OrderLine]) -> OrderPlaced:
    total = sum((x.unit_price * x.quantity for x in lines), Decimal("0"))
    return OrderPlaced(
        customer_id=customer_id, items=lines, shipping_address=ADDRESS, currency="EUR", total=total
    )


def _added(line: OrderLine) -> OrderItemAdded:
    return OrderItemAdded(**line.model_dump())
