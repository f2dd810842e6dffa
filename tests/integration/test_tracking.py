"""The append's guard on what a decision took as untracked, on real PostgreSQL."""

import asyncio
from collections.abc import AsyncIterator
from uuid import UUID, uuid4

import asyncpg
import pytest

from services.write.adapters.group_commit import PendingAppend
from services.write.adapters.migrations import migrate
from services.write.adapters.postgres import PostgresEventStore, create_pool
from services.write.application.handlers import CommandContext, CommandHandlers
from services.write.application.ports import (
    AppendResult,
    EmailClaim,
    IdempotencyRecord,
    TrackingChanged,
)
from services.write.domain.commands import PlaceOrder, ReceiveStock, RegisterCustomer
from shared.contracts.envelope import EventMetadata
from shared.contracts.events import (
    CustomerRegistered,
    OrderLine,
    OrderPlaced,
    StockReceived,
    stock_stream_id,
)
from tests.stores import sealed

META = EventMetadata(correlation_id="c1")
# The customer of the orders placed here: their data key is made at the first order.
CUSTOMER = uuid4()
ADDRESS = {"line1": "1 Main St", "city": "Paris", "postal_code": "75001", "country": "FR"}


class BatchesSeen(PostgresEventStore):
    """The store, counting the appends of each group commit it makes."""

    batches: list[int]

    async def _commit(self, batch: list[PendingAppend]) -> None:
        self.batches.append(len(batch))
        await super()._commit(batch)


@pytest.fixture
async def grouped(pg_database: str) -> AsyncIterator[BatchesSeen]:
    """One commit at a time: appends made together queue behind the first, then share one."""
    pool = await create_pool(pg_database, min_size=1, max_size=4)
    async with pool.acquire() as conn:
        await migrate(conn)
    store = BatchesSeen(pool, max_in_flight=1, **sealed(pool))
    store.batches = []
    yield store
    await store.close()
    await pool.close()


async def receive(store: PostgresEventStore, sku: str) -> None:
    await store.append(
        stream_type="stock",
        stream_id=stock_stream_id(sku),
        expected_version=0,
        events=[StockReceived(sku=sku, on_hand=1, reserved=0, quantity=1)],
        metadata=META,
    )


def placed(*skus: str) -> OrderPlaced:
    lines = [OrderLine(sku=s, name=s, quantity=1, unit_price="1.00") for s in skus]
    return OrderPlaced(
        customer_id=CUSTOMER, items=lines, shipping_address=ADDRESS, currency="EUR", total="1.00"
    )


async def place(
    store: PostgresEventStore, *skus: str, **options: object
) -> tuple[UUID, AppendResult]:
    order_id = uuid4()
    result = await store.append(
        stream_type="order",
        stream_id=order_id,
        expected_version=0,
        events=[placed(*skus)],
        metadata=META,
        untracked=[stock_stream_id(sku) for sku in skus],
        **options,  # type: ignore[arg-type]
    )
    return order_id, result


async def count_events(store: PostgresEventStore) -> int:
    return int(await store._pool.fetchval("SELECT count(*) FROM events"))


async def test_an_append_that_took_a_tracked_sku_as_untracked_appends_nothing(
    store: PostgresEventStore,
) -> None:
    await place(store, "A", "B")  # neither is tracked: the guard lets it through
    await receive(store, "B")
    before = await count_events(store)
    record = IdempotencyRecord(key="k", fingerprint="f", created=True)
    with pytest.raises(TrackingChanged):
        await place(store, "A", "B", idempotency=record)
    assert await count_events(store) == before
    assert await store.find_response("k") is None  # rolled back with the refused insert
    assert await store.tracked_skus(["A", "B", "C"]) == {"B"}
    assert await store.tracked_skus([]) == set()


async def test_only_the_stale_append_of_a_batch_fails(grouped: BatchesSeen) -> None:
    await receive(grouped, "T")
    await place(grouped, "U0")  # the customer's key is made, then cached: no lookup below
    grouped.batches.clear()
    customer_id = uuid4()
    appends = [
        place(grouped, "U1"),
        place(grouped, "T", "U2"),  # took T as untracked
        place(
            grouped, "U3", idempotency=IdempotencyRecord(key="k3", fingerprint="f", created=True)
        ),
        grouped.append(
            stream_type="customer",
            stream_id=customer_id,
            expected_version=0,
            events=[CustomerRegistered(name="A", email="a@x.io")],
            metadata=META,
            email=EmailClaim(claim="a@x.io"),
        ),
    ]
    outcomes = await asyncio.gather(*appends, return_exceptions=True)
    assert isinstance(outcomes[1], TrackingChanged)
    assert [type(o) for i, o in enumerate(outcomes) if i != 1] == [tuple, tuple, AppendResult]
    assert grouped.batches == [4]  # one group commit, then each alone within it
    for outcome in (outcomes[0], outcomes[2]):
        assert isinstance(outcome, tuple)
        loaded = await grouped.load(outcome[0])
        assert loaded.stream_type == "order" and len(loaded.events) == 1
    stored = await grouped.find_response("k3")
    assert stored is not None and stored.version == 1
    assert (await grouped.load(customer_id)).stream_type == "customer"
    with pytest.raises(asyncpg.UniqueViolationError):  # the claim was committed
        async with grouped._pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO customer_emails (email_index, customer_id) VALUES ($1, $2)",
                grouped.index.email("a@x.io"),
                uuid4(),
            )


async def test_a_handler_learns_what_another_replica_tracked(store: PostgresEventStore) -> None:
    here, there = CommandHandlers(store), CommandHandlers(store)
    ctx = CommandContext()
    customer = await here.register_customer(RegisterCustomer(name="A", email="b@x.io"), ctx)
    await there.receive_stock("S", ReceiveStock(quantity=3), ctx)
    command = PlaceOrder(
        customer_id=customer.stream_id,
        items=[{"sku": s, "name": s, "quantity": 1, "unit_price": "2.00"} for s in ("S", "N")],
        shipping_address=ADDRESS,
        currency="EUR",
    )
    result = await here.place_order(command, ctx)
    loaded = await store.load(result.stream_id)
    assert len(loaded.events) == 1
    event = loaded.events[0]
    assert isinstance(event, OrderPlaced) and event.tracked == ["S"]
