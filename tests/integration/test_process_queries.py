"""The fulfilment instances as operators read them, on PostgreSQL: listing by state, the stuck
rule, pages, counts, and one instance's timeline without personal data."""

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import orjson
import pytest

from services.write.adapters.migrations import Conn
from services.write.adapters.postgres import PostgresEventStore
from services.write.adapters.process_queries import PostgresProcessQueries
from services.write.application.processes import PageAfter, ProcessState
from shared.contracts.envelope import EventMetadata
from shared.contracts.events import (
    OrderLine,
    OrderPlaced,
    ShippingAddress,
    StockReserved,
    fulfilment_stream_id,
    stock_stream_id,
)

STUCK_SECONDS = 60
PROCESS = {"subject": "process:fulfilment"}


@pytest.fixture
def queries(store: PostgresEventStore) -> PostgresProcessQueries:
    return PostgresProcessQueries(store.pool, stuck_seconds=STUCK_SECONDS)


async def instance(
    pool: asyncpg.Pool | Conn,
    order_id: UUID | None = None,
    *,
    state: str = "active",
    stage: str = "pending",
    updated_ago: float = 0,
    progressed_ago: float = 0,
    deadline_in: float | None = None,
    **columns: Any,
) -> UUID:
    """An instance row as the process would leave it, its times relative to the database's
    clock (seconds ago, seconds ahead)."""
    order_id = order_id or uuid4()
    values = {"reservations": {}, "attempts": 0, "error": None, "rules": 1, "version": 1}
    values.update(columns)
    await pool.execute(
        "INSERT INTO fulfilment_instances (order_id, state, stage, rules, version, reservations,"
        " deadline_at, attempts, error, started_at, progressed_at, updated_at)"
        " VALUES ($1, $2, $3, $4, $5, $6,"
        " CASE WHEN $7::float8 IS NULL THEN NULL ELSE now() + make_interval(secs => $7) END,"
        " $8, $9, now() - make_interval(secs => $10), now() - make_interval(secs => $11),"
        " now() - make_interval(secs => $12))",
        order_id,
        state,
        stage,
        values["rules"],
        values["version"],
        values["reservations"],
        deadline_in,
        values["attempts"],
        values["error"],
        max(updated_ago, progressed_ago) + 1,
        progressed_ago,
        updated_ago,
    )
    return order_id


async def event(
    pool: asyncpg.Pool,
    stream_id: UUID,
    event_type: str,
    data: dict[str, Any],
    *,
    stream_type: str = "order",
    recorded_ago: float = 0,
    actor: dict[str, str] = PROCESS,
) -> None:
    """An event appended to the end of its stream, recorded `recorded_ago` seconds ago."""
    await pool.execute(
        "INSERT INTO events (event_id, stream_type, stream_id, version, event_type,"
        " schema_version, data, metadata, recorded_at)"
        " SELECT $1, $2, $3, coalesce(max(version), 0) + 1, $4, 1, $5, $6,"
        " now() - make_interval(secs => $7) FROM events WHERE stream_id = $3",
        uuid4(),
        stream_type,
        stream_id,
        event_type,
        data,
        {"actor": actor},
        recorded_ago,
    )


async def test_nothing_to_list_and_nothing_to_count(queries: PostgresProcessQueries) -> None:
    for state in (None, *ProcessState):
        page = await queries.list(state=state, limit=10)
        assert (page.items, page.next) == ([], None)
    assert await queries.count_by_state() == dict.fromkeys(ProcessState, 0)
    assert await queries.get(uuid4()) is None


async def test_instances_are_listed_by_state_newest_first(
    store: PostgresEventStore, queries: PostgresProcessQueries
) -> None:
    pool = store.pool
    old = await instance(pool, updated_ago=30)
    suspended = await instance(
        pool, state="suspended", updated_ago=20, attempts=3, error="Refused: boom"
    )
    done = await instance(pool, state="completed", stage="shipped", updated_ago=10)
    new = await instance(pool, stage="reserved", reservations={"A-1": 2}, updated_ago=5)

    everything = await queries.list(state=None, limit=10)
    assert [p.order_id for p in everything.items] == [new, done, suspended, old]
    active = await queries.list(state=ProcessState.ACTIVE, limit=10)
    assert [p.order_id for p in active.items] == [new, old]
    [found] = (await queries.list(state=ProcessState.SUSPENDED, limit=10)).items
    assert (found.order_id, found.state, found.attempts, found.error) == (
        suspended,
        "suspended",
        3,
        "Refused: boom",
    )
    assert active.items[0].reservations == {"A-1": 2}
    alone = await queries.find(suspended)
    assert alone is not None and alone == found
    assert await queries.find(uuid4()) is None
    completed = await queries.list(state=ProcessState.COMPLETED, limit=10)
    assert [(p.order_id, p.stage) for p in completed.items] == [(done, "shipped")]
    counts = await queries.count_by_state()
    assert counts == {"active": 2, "suspended": 1, "completed": 1, "stuck": 0}


async def test_pages_follow_each_other_without_gaps_or_repeats(
    store: PostgresEventStore, queries: PostgresProcessQueries
) -> None:
    # Rows updated in the same transaction share updated_at: the order id orders them.
    async with store.pool.acquire() as conn, conn.transaction():
        same_moment = [await instance(conn, state=s) for s in ("active", "completed") * 3]
    earlier = [await instance(store.pool, updated_ago=60 + i) for i in range(3)]
    expected = sorted(same_moment, reverse=True) + earlier

    for state, wanted in [(None, expected), (ProcessState.ACTIVE, None)]:
        seen: list[UUID] = []
        after: PageAfter | None = None
        while True:
            page = await queries.list(state=state, limit=2, after=after)
            seen += [p.order_id for p in page.items]
            assert len(page.items) <= 2
            if page.next is None:
                break
            after = PageAfter.decode(page.next.encode())  # as a client passes it back
        if wanted is not None:
            assert seen == wanted
        else:
            completed = set(same_moment[1::2])
            assert seen == [o for o in expected if o not in completed]


async def test_an_instance_is_stuck_when_it_stops_moving(
    store: PostgresEventStore, queries: PostgresProcessQueries
) -> None:
    pool = store.pool
    long_ago = STUCK_SECONDS * 2

    async def with_order_event(order_id: UUID, recorded_ago: float) -> UUID:
        await event(pool, order_id, "OrderItemAdded", {"sku": "A-1"}, recorded_ago=recorded_ago)
        return order_id

    stuck_behind = await with_order_event(await instance(pool, progressed_ago=long_ago), 1)
    idle = await with_order_event(await instance(pool, progressed_ago=long_ago), long_ago + 5)
    late_deadline = await instance(pool, stage="reserved", deadline_in=-45)
    deadline_in_grace = await instance(pool, stage="reserved", deadline_in=-10)
    done = await with_order_event(await instance(pool, stage="shipped", progressed_ago=long_ago), 1)
    suspended = await with_order_event(
        await instance(pool, state="suspended", progressed_ago=long_ago), 1
    )
    recent = await with_order_event(await instance(pool, progressed_ago=STUCK_SECONDS / 2), 1)

    stuck = await queries.list(state=ProcessState.STUCK, limit=50)
    assert {p.order_id for p in stuck.items} == {stuck_behind, late_deadline}
    assert all(p.stuck and p.state == "active" for p in stuck.items)
    listed = {p.order_id: p.stuck for p in (await queries.list(state=None, limit=50)).items}
    not_stuck = (idle, deadline_in_grace, done, suspended, recent)
    assert [listed[o] for o in not_stuck] == [False] * len(not_stuck)
    counts = await queries.count_by_state()
    assert (counts[ProcessState.STUCK], counts[ProcessState.ACTIVE]) == (2, 6)
    detail = await queries.get(late_deadline)
    assert detail is not None and detail.summary.stuck


def placed(customer_id: UUID) -> OrderPlaced:
    address = ShippingAddress(
        line1="7 Secret Lane", city="Hiddenville", postal_code="ZZ9 9ZZ", country="GB"
    )
    lines = [
        OrderLine(sku="A-1", name="Private Widget", quantity=2, unit_price=Decimal("4.50")),
        OrderLine(sku="B-2", name="Plain Bolt", quantity=1, unit_price=Decimal("1.00")),
    ]
    return OrderPlaced(
        customer_id=customer_id,
        items=lines,
        shipping_address=address,
        currency="EUR",
        total=Decimal("10.00"),
        tracked=["A-1"],
    )


async def stock_reserved(store: PostgresEventStore, order_id: UUID, sku: str, version: int) -> None:
    await store.append(
        stream_type="stock",
        stream_id=stock_stream_id(sku),
        expected_version=version - 1,
        events=[StockReserved(sku=sku, on_hand=10, reserved=2, order_id=order_id, quantity=2)],
        metadata=EventMetadata(actor=PROCESS),
    )


async def test_the_timeline_merges_the_order_the_process_and_the_stock_without_personal_data(
    store: PostgresEventStore, queries: PostgresProcessQueries
) -> None:
    order_id, other_order = uuid4(), uuid4()
    clerk = EventMetadata(actor={"subject": "clerk-7", "client_id": "shop"})
    await store.append(
        stream_type="order",
        stream_id=order_id,
        expected_version=0,
        events=[placed(uuid4())],
        metadata=clerk,
    )
    process = fulfilment_stream_id(order_id)
    cause = {"event_type": "OrderPlaced", "version": 1}
    await event(
        store.pool,
        process,
        "FulfilmentStarted",
        {"order_id": str(order_id), "rules": 1, "cause": cause},
        stream_type="fulfilment",
    )
    await stock_reserved(store, other_order, "A-1", 1)  # another order's, on the same SKU
    await stock_reserved(store, order_id, "A-1", 2)
    line = {"sku": "A-1", "quantity": 2, "cause": cause}
    await event(store.pool, process, "LineReserved", line, stream_type="fulfilment")
    await instance(store.pool, order_id, stage="reserved", reservations={"A-1": 2}, version=2)

    detail = await queries.get(order_id)

    assert detail is not None
    assert (detail.summary.order_id, detail.rules, detail.version) == (order_id, 1, 2)
    assert isinstance(detail.started_at, datetime)
    kinds = [(e.stream, e.type, e.actor) for e in detail.timeline]
    assert kinds == [
        ("order", "OrderPlaced", "clerk-7"),
        ("process", "FulfilmentStarted", "process:fulfilment"),
        ("stock", "StockReserved", "process:fulfilment"),
        ("process", "LineReserved", "process:fulfilment"),
    ]
    positions = [e.position for e in detail.timeline]
    assert positions == sorted(positions)
    order_data = detail.timeline[0].data
    assert order_data["items"][0] == {"sku": "A-1", "quantity": 2, "unit_price": "4.50"}
    assert "shipping_address" not in order_data and order_data["currency"] == "EUR"
    assert detail.timeline[2].data["order_id"] == str(order_id)
    shown = orjson.dumps([e.data for e in detail.timeline], default=str).decode()
    for secret in ("Secret Lane", "Hiddenville", "ZZ9", "Private Widget", "Plain Bolt"):
        assert secret not in shown
