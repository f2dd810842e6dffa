"""The three projections over a real history, in MongoDB, without Kafka.

Whatever the interleaving of customer and order streams, the batch size, duplicates or version
gaps healed on the way, the documents come out the same; and they hold the values worked out by
hand for the history below.
"""

import asyncio
import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from services.read.adapters.collection_names import Collections
from services.read.adapters.control import ControlState, RebuildLock
from services.read.adapters.documents import MongoDocumentStore
from services.read.adapters.versions import MongoVersions
from services.read.adapters.write_api import WriteApi
from services.read.application import rebuild
from services.read.application.buffer import BufferedStore
from services.read.application.healing import healer
from services.read.application.ports import Conflict
from services.read.projections import PROJECTIONS, customers, order_details
from services.read.projections.base import Event, Heal
from services.read.projections.rollup import Rollups
from services.write.adapters.migrations import migrate
from services.write.adapters.postgres import PostgresEventStore, create_pool
from services.write.application.handlers import CommandContext, CommandHandlers
from services.write.domain.commands import (
    AddOrderItem,
    CancelOrder,
    ChangeCustomerEmail,
    PlaceOrder,
    RegisterCustomer,
    RemoveOrderItem,
    RenameCustomer,
    ShipOrder,
)
from shared.contracts.envelope import START, RecordedEvent
from shared.contracts.events import OrderLine
from tests.backends import Backend, with_database
from tests.polling import poll
from tests.sales_days import day_document

pytestmark = pytest.mark.integration

Doc = dict[str, Any]
Snapshot = dict[str, list[Doc]]
Arrange = Callable[[list[Event]], list[Event]]

CTX = CommandContext()
ADDRESS = {"line1": "1 Quay St", "city": "Lyon", "postal_code": "69001", "country": "FR"}
CATALOGUE = {
    "APL": ("Apple", "1.25"),
    "BRD": ("Bread", "3.40"),
    "CHS": ("Cheese", "7.99"),
    "DTE": ("Dates", "0.35"),
    "EGG": ("Eggs", "2.10"),
}
CUSTOMERS = ["Ada", "Bob", "Cy", "Dee", "Eve", "Fay"]
# (customer, lines placed, steps before the customers change); "add APL 3" adds to a placed SKU.
ORDERS: list[tuple[int, list[tuple[str, int]], list[str]]] = [
    (0, [("APL", 2)], ["add APL 3", "add BRD 1", "confirm"]),
    (0, [("CHS", 1), ("DTE", 10)], ["remove DTE", "cancel"]),
    (1, [("EGG", 2)], ["confirm", "cancel"]),
    (1, [("BRD", 2)], ["add CHS 1"]),
    (2, [("APL", 1)], ["add APL 1", "add APL 2", "confirm"]),
    (2, [("DTE", 3)], ["confirm", "ship"]),
    (3, [("CHS", 2)], []),
    (3, [("EGG", 1), ("BRD", 1)], ["remove EGG", "confirm", "cancel"]),
    (4, [("APL", 4)], ["confirm"]),
    (4, [("BRD", 1), ("CHS", 1), ("DTE", 2)], []),
    (5, [("EGG", 3)], ["cancel"]),
    (5, [("DTE", 1)], []),
]
# Renames and email changes, all after the customers' orders were placed.
CUSTOMER_CHANGES = [
    (0, "rename Ada Lovelace"),
    (1, "email bob.builder@example.org"),
    (3, "rename Dee Dee"),
    (0, "rename Ada King"),
    (3, "email dee.dee@example.org"),
]
LATE_STEPS = [(0, "ship"), (8, "ship"), (11, "add EGG 1")]
# Worked out by hand from the above: total, item_count, status, version.
EXPECTED_ORDERS = [
    ("9.65", 6, "shipped", 5),
    ("7.99", 1, "cancelled", 3),
    ("4.20", 2, "cancelled", 3),
    ("14.79", 3, "placed", 2),
    ("5.00", 4, "confirmed", 4),
    ("1.05", 3, "shipped", 3),
    ("15.98", 2, "placed", 1),
    ("3.40", 1, "cancelled", 4),
    ("5.00", 4, "shipped", 3),
    ("12.09", 4, "placed", 1),
    ("6.30", 3, "cancelled", 2),
    ("2.45", 2, "placed", 2),
]
MAIN_AND_AUX = {
    "order_details_v1",
    "order_details_v1_customers",
    "customers_v1",
    "customers_v1_orders",
    "sales_v1",
    "sales_v1_orders",
}


class History:
    """The log as written, with the ids of the customers and orders in script order."""

    def __init__(self, events: list[Event], customers: list[str], orders: list[str]) -> None:
        self.events, self.customers, self.orders = events, customers, orders

    def of(self, stream_id: str, version: int) -> Event:
        return next(e for e in self.events if (e.stream_id, e.version) == (stream_id, version))


def order_line(sku: str, quantity: int) -> OrderLine:
    name, price = CATALOGUE[sku]
    return OrderLine(sku=sku, name=name, quantity=quantity, unit_price=Decimal(price))


async def run_step(handlers: CommandHandlers, order_id: UUID, step: str) -> None:
    verb, *args = step.split()
    if verb == "add":
        line = order_line(args[0], int(args[1]))
        await handlers.add_order_item(order_id, AddOrderItem(**line.model_dump()), CTX)
    elif verb == "remove":
        await handlers.remove_order_item(order_id, RemoveOrderItem(sku=args[0]), CTX)
    elif verb == "confirm":
        await handlers.confirm_order(order_id, CTX)
    elif verb == "ship":
        cmd = ShipOrder(carrier="DHL", tracking_number=f"TRK-{order_id.hex[:8]}")
        await handlers.ship_order(order_id, cmd, CTX)
    else:
        await handlers.cancel_order(order_id, CancelOrder(reason="changed mind"), CTX)


async def change_customer(handlers: CommandHandlers, customer_id: UUID, change: str) -> None:
    verb, value = change.split(" ", 1)
    if verb == "rename":
        await handlers.rename_customer(customer_id, RenameCustomer(name=value), CTX)
    else:
        await handlers.change_customer_email(customer_id, ChangeCustomerEmail(email=value), CTX)


async def write_history(store: PostgresEventStore) -> History:
    handlers = CommandHandlers(store)
    customers: list[UUID] = []
    for name in CUSTOMERS:
        register = RegisterCustomer(name=name, email=f"{name.lower()}@example.org")
        customers.append((await handlers.register_customer(register, CTX)).stream_id)
    orders: list[UUID] = []
    for customer, lines, _ in ORDERS:
        items = [order_line(sku, quantity) for sku, quantity in lines]
        cmd = PlaceOrder(
            customer_id=customers[customer], items=items, shipping_address=ADDRESS, currency="EUR"
        )
        orders.append((await handlers.place_order(cmd, CTX)).stream_id)
    for round_ in range(max(len(steps) for _, _, steps in ORDERS)):  # streams interleave
        for order_id, (_, _, steps) in zip(orders, ORDERS, strict=True):
            if round_ < len(steps):
                await run_step(handlers, order_id, steps[round_])
    for customer, change in CUSTOMER_CHANGES:
        await change_customer(handlers, customers[customer], change)
    for order, step in LATE_STEPS:
        await run_step(handlers, orders[order], step)
    log = await store.read_all(START, 10_000)
    return History(
        [as_event(e) for e in log], [str(c) for c in customers], [str(o) for o in orders]
    )


def as_event(recorded: RecordedEvent) -> Event:
    return Event(
        event_id=str(recorded.event_id),
        stream_type=recorded.stream_type,
        stream_id=str(recorded.stream_id),
        version=recorded.version,
        event_type=recorded.event_type,
        position=recorded.position,
        recorded_at=recorded.recorded_at,
        data=dict(recorded.data),
    )


@pytest.fixture(scope="module")
async def history(postgres: Backend) -> AsyncIterator[History]:
    """Written once per module: its own database, as `pg_database` does it per test."""
    name = f"test_projections_{uuid.uuid4().hex}"
    admin = await asyncpg.connect(postgres.url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    pool = await create_pool(with_database(postgres.url, name), min_size=1, max_size=4)
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
        yield await write_history(PostgresEventStore(pool))
    finally:
        await pool.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(scope="module")
async def client(mongo: Backend) -> AsyncIterator[AsyncMongoClient[Doc]]:
    mongo_client: AsyncMongoClient[Doc] = AsyncMongoClient(mongo.url, tz_aware=True)
    yield mongo_client
    await mongo_client.close()


Databases = Callable[[], AsyncDatabase[Doc]]


@pytest.fixture
async def new_db(client: AsyncMongoClient[Doc]) -> AsyncIterator[Databases]:
    """A factory of empty databases, dropped after the test."""
    made: list[str] = []

    def make() -> AsyncDatabase[Doc]:
        made.append(f"test_projections_{uuid.uuid4().hex[:12]}")
        return client[made[-1]]

    yield make
    for name in made:
        await client.drop_database(name)


async def no_gaps(stream_id: str, have: int) -> list[Event]:
    raise AssertionError(f"unexpected gap in {stream_id} after version {have}")


async def project(
    db: AsyncDatabase[Doc], batches: Sequence[Sequence[Event]], heal: Heal = no_gaps
) -> None:
    """Apply every batch to all three projections, as three consumers would (each a memo of its
    own for each batch: nothing kept between batches)."""
    for batch in batches:
        for spec in PROJECTIONS.values():
            store = MongoDocumentStore(db, Collections(spec.name, 1))
            await spec.apply(store, batch, heal, Rollups())


async def snapshot(db: AsyncDatabase[Doc]) -> Snapshot:
    """Every collection's documents by `_id`, without `_rev` (a write counter)."""
    result: Snapshot = {}
    for name in sorted(await db.list_collection_names()):
        cursor = db[name].find({}).sort("_id", 1)
        result[name] = [{k: v for k, v in doc.items() if k != "_rev"} async for doc in cursor]
    return result


def batched(events: Sequence[Event], size: int) -> list[list[Event]]:
    return [list(events[i : i + size]) for i in range(0, len(events), size)]


def customers_first(events: list[Event]) -> list[Event]:
    return sorted(events, key=lambda e: e.stream_type != "customer")  # stable: keeps the order


def orders_first(events: list[Event]) -> list[Event]:
    return sorted(events, key=lambda e: e.stream_type != "order")


def random_merge(seed: int) -> Arrange:
    """Pick the next stream at random at every step: each stream keeps its own order."""

    def arrange(events: list[Event]) -> list[Event]:
        queues: dict[str, list[Event]] = {}
        for event in events:
            queues.setdefault(event.stream_id, []).append(event)
        rng, merged = random.Random(seed), []
        live = list(queues.values())
        while live:
            queue = rng.choice(live)
            merged.append(queue.pop(0))
            live = [q for q in live if q]
        return merged

    return arrange


def assert_stream_orders_kept(arranged: list[Event], events: list[Event]) -> None:
    assert sorted(e.event_id for e in arranged) == sorted(e.event_id for e in events)
    seen: dict[str, int] = {}
    for event in arranged:
        assert event.version == seen.get(event.stream_id, 0) + 1
        seen[event.stream_id] = event.version


def assert_same(got: Snapshot, want: Snapshot) -> None:
    assert set(got) == set(want) == MAIN_AND_AUX
    for name, docs in want.items():
        assert got[name] == docs, f"collection {name} differs"


@pytest.fixture(scope="module")
async def reference(history: History, client: AsyncMongoClient[Doc]) -> AsyncIterator[Snapshot]:
    """The history applied once, in commit order, in batches of 50."""
    db = client[f"test_projections_ref_{uuid.uuid4().hex[:12]}"]
    await project(db, batched(history.events, 50))
    yield await snapshot(db)
    await client.drop_database(db.name)


ARRANGEMENTS: list[tuple[str, Arrange, int]] = [
    ("customers-first", customers_first, 50),
    ("customers-first", customers_first, 1),
    ("orders-first", orders_first, 50),
    ("orders-first", orders_first, 1),
    ("random-7", random_merge(7), 1),
    ("random-11", random_merge(11), 50),
    ("random-23", random_merge(23), 4),
]


@pytest.mark.parametrize(
    ("arrange", "size"),
    [pytest.param(a, s, id=f"{name}-batch{s}") for name, a, s in ARRANGEMENTS],
)
async def test_any_interleaving_of_streams_gives_the_same_documents(
    history: History, reference: Snapshot, new_db: Databases, arrange: Arrange, size: int
) -> None:
    events = arrange(history.events)
    assert_stream_orders_kept(events, history.events)
    assert events != history.events
    db = new_db()
    await project(db, batched(events, size))
    assert_same(await snapshot(db), reference)


def each_batch_twice(events: list[Event]) -> list[list[Event]]:
    return [batch for batch in batched(events, 6) for _ in range(2)]


def whole_history_twice(events: list[Event]) -> list[list[Event]]:
    return batched(events, 50) + batched(random_merge(5)(events), 3)


def each_event_twice_in_its_batch(events: list[Event]) -> list[list[Event]]:
    return batched([e for e in events for _ in range(2)], 8)


@pytest.mark.parametrize(
    "redeliver", [each_batch_twice, whole_history_twice, each_event_twice_in_its_batch]
)
async def test_duplicates_change_nothing(
    history: History,
    reference: Snapshot,
    new_db: Databases,
    redeliver: Callable[[list[Event]], list[list[Event]]],
) -> None:
    db = new_db()
    await project(db, redeliver(history.events))
    assert_same(await snapshot(db), reference)


@pytest.mark.parametrize("size", [1, 50])
async def test_version_gaps_are_healed_from_the_history(
    history: History, reference: Snapshot, new_db: Databases, size: int
) -> None:
    shipped, cancelled = history.orders[0], history.orders[7]
    renamed = history.customers[3]
    dropped = {(shipped, 2), (shipped, 3), (cancelled, 1), (renamed, 1)}
    calls: list[tuple[str, int]] = []

    async def heal(stream_id: str, have: int) -> list[Event]:
        calls.append((stream_id, have))
        return [e for e in history.events if e.stream_id == stream_id and e.version > have]

    events = [e for e in history.events if (e.stream_id, e.version) not in dropped]
    assert len(events) == len(history.events) - len(dropped)
    db = new_db()
    await project(db, batched(events, size), heal)
    assert_same(await snapshot(db), reference)
    # order_details and customers fold both stream types; sales only orders
    assert Counter(calls) == {(shipped, 1): 3, (cancelled, 0): 3, (renamed, 0): 2}


def by_id(docs: list[Doc]) -> dict[str, Doc]:
    return {doc["_id"]: doc for doc in docs}


def to_ms(moment: datetime) -> datetime:
    """What MongoDB keeps of a timestamp: milliseconds."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def test_order_documents_hold_the_values_worked_out_by_hand(
    history: History, reference: Snapshot
) -> None:
    orders = by_id(reference["order_details_v1"])
    assert len(orders) == len(ORDERS)
    for order_id, (total, count, status, version) in zip(
        history.orders, EXPECTED_ORDERS, strict=True
    ):
        doc = orders[order_id]
        assert (doc["total"], doc["item_count"], doc["status"], doc["version"]) == (
            total,
            count,
            status,
            version,
        ), order_id
    first = orders[history.orders[0]]
    assert [(x["sku"], x["quantity"], x["line_total"]) for x in first["items"]] == [
        ("APL", 5, "6.25"),
        ("BRD", 1, "3.40"),
    ]
    assert first["status_history"] == [
        {"status": s, "version": v, "at": to_ms(history.of(first["_id"], v).recorded_at)}
        for s, v in [("placed", 1), ("confirmed", 4), ("shipped", 5)]
    ]
    assert first["carrier"] == "DHL" and first["placed_at"] == first["status_history"][0]["at"]
    from_placed, from_confirmed = orders[history.orders[1]], orders[history.orders[2]]
    assert [h["status"] for h in from_placed["status_history"]] == ["placed", "cancelled"]
    assert [h["status"] for h in from_confirmed["status_history"]] == [
        "placed",
        "confirmed",
        "cancelled",
    ]
    assert from_confirmed["cancel_reason"] == "changed mind"


def test_customer_details_are_denormalized_as_of_their_latest_change(
    history: History, reference: Snapshot
) -> None:
    orders = by_id(reference["order_details_v1"])
    # both renames of Ada came after her orders were placed
    assert {
        (orders[o]["customer_name"], orders[o]["customer_email"], orders[o]["customer_version"])
        for o in history.orders[:2]
    } == {("Ada King", "ada@example.org", 3)}
    dee = orders[history.orders[6]]
    assert (dee["customer_name"], dee["customer_email"]) == ("Dee Dee", "dee.dee@example.org")
    cy = orders[history.orders[4]]
    assert (cy["customer_name"], cy["customer_version"]) == ("Cy", 1)


def test_customers_count_every_order_and_value_the_kept_ones(
    history: History, reference: Snapshot
) -> None:
    customers = by_id(reference["customers_v1"])
    values = ["9.65", "14.79", "6.05", "15.98", "17.09", "2.45"]  # cancelled orders excluded
    for customer_id, value in zip(history.customers, values, strict=True):
        doc = customers[customer_id]
        assert (doc["order_count"], doc["lifetime_value"]) == (2, value), doc["name"]
    bob = customers[history.customers[1]]
    assert bob["email"] == "bob.builder@example.org"
    assert bob["email_lower"] == "bob.builder@example.org"
    assert [(h["email"], h["version"]) for h in bob["email_history"]] == [
        ("bob@example.org", 1),
        ("bob.builder@example.org", 2),
    ]
    assert customers[history.customers[0]]["name"] == "Ada King"


def test_daily_sales_count_cancellations_and_sum_the_kept_orders(
    history: History, reference: Snapshot
) -> None:
    days = reference["sales_v1"]
    placed_on = {history.of(o, 1).recorded_at.date().isoformat() for o in history.orders}
    assert {d["day"] for d in days} == placed_on  # one day, unless run across midnight UTC
    assert sum(d["orders_placed"] for d in days) == 12
    assert sum(d["orders_cancelled"] for d in days) == 4
    assert sum(Decimal(d["revenue"]) for d in days) == Decimal("66.01")
    assert sum(d["units"] for d in days) == 28
    products: Counter[tuple[str, str]] = Counter()
    for day in days:
        for p in day["products"]:
            products[(p["sku"], "units")] += p["units"]
            products[(p["sku"], "revenue")] += int(Decimal(p["revenue"]) * 100)
    assert products == {
        ("APL", "units"): 13, ("APL", "revenue"): 1625,
        ("BRD", "units"): 4, ("BRD", "revenue"): 1360,
        ("CHS", "units"): 4, ("CHS", "revenue"): 3196,
        ("DTE", "units"): 6, ("DTE", "revenue"): 210,
        ("EGG", "units"): 1, ("EGG", "revenue"): 210,
    }  # fmt: skip
    if len(days) == 1:
        assert days[0]["average_order_value"] == "8.25"  # 66.01 over 8 kept orders


# -- rollups kept in memory between batches ---------------------------------------------------

ROLLED_UP = ("customers", "sales")  # the projections that sum groups of orders


class Crash(Exception):
    """The process died after saving the orders, before saving the groups."""


class WatchedStore(MongoDocumentStore):
    """Notes the groups summed again from all their orders; may crash before saving groups."""

    def __init__(self, writer: "Writer", name: str, *, crash: bool = False) -> None:
        super().__init__(writer.db, Collections(name, 1))
        self.writer, self.crash = writer, crash

    async def find(self, role: str, field: str, values: Iterable[str]) -> list[Doc]:
        wanted = set(values)
        self.writer.summed_again[self.collections.projection].update(wanted)
        return await super().find(role, field, wanted)

    async def save(self, role: str, changed: Mapping[str, Doc], loaded: Mapping[str, Doc]) -> None:
        if self.crash and role == "main":
            raise Crash(self.collections.projection)
        await super().save(role, changed, loaded)


class Writer:
    """One consumer of the rolled-up projections: a memo per projection, kept across batches."""

    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self.db = db
        self.memos: dict[str, Rollups] = {name: Rollups() for name in ROLLED_UP}
        self.summed_again: dict[str, Counter[str]] = {name: Counter() for name in ROLLED_UP}

    async def apply(self, batch: Sequence[Event], *, crash: bool = False) -> None:
        for name in ROLLED_UP:
            store = WatchedStore(self, name, crash=crash)
            try:
                await PROJECTIONS[name].apply(store, batch, no_gaps, self.memos[name])
            except Crash:
                pass


def rolled_up(snap: Snapshot) -> Snapshot:
    return {k: v for k, v in snap.items() if k.split("_v")[0] in ROLLED_UP}


async def assert_groups_match_their_orders(db: AsyncDatabase[Doc]) -> None:
    """Every day and customer document equals a full recompute from the orders as they are."""
    orders = [doc async for doc in db["sales_v1_orders"].find({})]
    async for day in db["sales_v1"].find({}):
        mine = [o for o in orders if o["day"] == day["_id"]]
        want = day_document(day["_id"], mine)
        assert {k: v for k, v in day.items() if k != "_rev"} == want
    orders = [doc async for doc in db["customers_v1_orders"].find({})]
    async for customer in db["customers_v1"].find({}):
        mine = [o for o in orders if o["customer_id"] == customer["_id"]]
        got = (customer["order_count"], customer["lifetime_value"])
        assert got == customers.totals(mine), customer["name"]


@pytest.mark.parametrize(
    "batches",
    [
        lambda events: batched(events, 1),
        lambda events: batched(random_merge(7)(events), 5),
        lambda events: batched(orders_first(events), 4),
        each_batch_twice,
        each_event_twice_in_its_batch,
    ],
    ids=["one-by-one", "random-7-batch5", "orders-first-batch4", "batch-twice", "event-twice"],
)
async def test_rollups_kept_between_batches_give_the_documents_of_a_full_recompute(
    history: History,
    reference: Snapshot,
    new_db: Databases,
    batches: Callable[[list[Event]], list[list[Event]]],
) -> None:
    writer = Writer(new_db())
    for batch in batches(history.events):
        await writer.apply(batch)
    assert_same_rolled_up(await snapshot(writer.db), reference)
    await assert_groups_match_their_orders(writer.db)
    # each day and each customer was summed from all its orders once, on first touch
    days = {history.of(o, 1).recorded_at.date().isoformat() for o in history.orders}
    assert writer.summed_again["sales"] == dict.fromkeys(days, 1)
    assert writer.summed_again["customers"] == dict.fromkeys(history.customers, 1)


def assert_same_rolled_up(got: Snapshot, want: Snapshot) -> None:
    got, want = rolled_up(got), rolled_up(want)
    assert set(got) == set(want) == {n for n in MAIN_AND_AUX if n.split("_v")[0] in ROLLED_UP}
    for name, docs in want.items():
        assert got[name] == docs, f"collection {name} differs"


async def test_a_rollup_is_summed_again_once_another_writer_changed_its_group(
    history: History, new_db: Databases
) -> None:
    writer = Writer(new_db())
    head, rest = history.events[:40], history.events[40:]
    for batch in batched(head, 10):
        await writer.apply(batch)
    # Behind the writer's back, another one cancels Ada's first order and writes the groups.
    order_id, ada = history.orders[0], history.customers[0]
    day = history.of(order_id, 1).recorded_at.date().isoformat()
    db = writer.db
    await db["sales_v1_orders"].update_one({"_id": order_id}, {"$set": {"cancelled": True}})
    await db["sales_v1"].update_one({"_id": day}, {"$inc": {"_rev": 1}})
    await db["customers_v1_orders"].update_one({"_id": order_id}, {"$set": {"status": "cancelled"}})
    await db["customers_v1"].update_one({"_id": ada}, {"$inc": {"_rev": 1}})
    assert writer.summed_again["sales"][day] == 1 and writer.summed_again["customers"][ada] == 1
    for batch in batched(rest, 10):
        await writer.apply(batch)
    assert writer.summed_again["sales"][day] == 2 and writer.summed_again["customers"][ada] == 2
    await assert_groups_match_their_orders(db)
    doc = await db["customers_v1"].find_one({"_id": ada})
    assert doc is not None and (doc["order_count"], doc["lifetime_value"]) == (2, "0.00")


@pytest.mark.parametrize("who", ["the same writer", "another writer"])
async def test_a_batch_applied_again_repairs_groups_left_behind_by_a_crash(
    history: History, reference: Snapshot, new_db: Databases, who: str
) -> None:
    writer = Writer(new_db())
    batches = batched(history.events, 10)
    for batch in batches[:2]:
        await writer.apply(batch)
    crashing = writer if who == "the same writer" else Writer(writer.db)
    await crashing.apply(batches[2], crash=True)
    # the orders are saved, the days and customers are not: they lag behind their orders
    with pytest.raises(AssertionError):
        await assert_groups_match_their_orders(writer.db)
    await writer.apply(batches[2])  # redelivered: its events are all duplicates now
    await assert_groups_match_their_orders(writer.db)
    for batch in batches[3:]:
        await writer.apply(batch)
    assert_same_rolled_up(await snapshot(writer.db), reference)


async def test_a_group_summed_again_is_written_even_if_its_fields_come_out_the_same(
    history: History, new_db: Databases
) -> None:
    """A product's name hides its counts: another writer's memo must lapse all the same."""
    writer = Writer(new_db())
    for batch in batched(history.events, 10):
        await writer.apply(batch)
    # Orders 0, 4 and 8 sell APL as "Apple". Another writer saved order 0 with another name for
    # it and died before writing the day; a third one applies that batch again: the day's
    # figures and names come out the same ("Apple", 2 to 1), but the first writer's memo of
    # the day still counts order 0 as "Apple".
    first = history.orders[0]
    db = writer.db
    await db["sales_v1_orders"].update_one({"_id": first}, {"$set": {"lines.APL.0": "Zucchini"}})
    await Writer(db).apply([e for e in history.events if e.stream_id == first])
    cancel, last = history.orders[4], history.of(history.orders[4], 4)
    cancelled = Event(
        f"{cancel}-5", "order", cancel, 5, "OrderCancelled", 10_000, last.recorded_at, {}
    )
    await writer.apply([cancelled])  # "Apple" 1, "Zucchini" 1: the greatest name
    await assert_groups_match_their_orders(db)
    days = [day async for day in db["sales_v1"].find({"products.sku": "APL"})]
    if len(days) == 1:  # unless the history ran across midnight UTC
        assert [p["name"] for p in days[0]["products"] if p["sku"] == "APL"] == ["Zucchini"]


def buffered(db: AsyncDatabase[Doc], projection: str, **options: Any) -> BufferedStore:
    """The rebuild's store over version 1 of a projection in MongoDB."""
    return BufferedStore(MongoDocumentStore(db, Collections(projection, 1)), **options)


@pytest.mark.parametrize("budget", [10_000_000, 2_000])
async def test_a_rebuild_buffering_documents_in_memory_writes_the_same_documents(
    history: History, reference: Snapshot, new_db: Databases, budget: int
) -> None:
    """The rebuild's store: all in memory, or with documents leaving memory and read back."""
    db = new_db()
    stores = {
        spec.name: buffered(db, spec.name, budget_bytes=budget) for spec in PROJECTIONS.values()
    }
    memos = {name: Rollups() for name in PROJECTIONS}
    for batch in batched(random_merge(3)(history.events), 20):
        for spec in PROJECTIONS.values():
            await spec.apply(stores[spec.name], batch, no_gaps, memos[spec.name])
    written_before_flush = sum(store.written for store in stores.values())
    for store in stores.values():
        await store.flush()
    assert_same(await snapshot(db), reference)
    documents = sum(len(docs) for docs in reference.values())
    if budget < 10_000:  # flushed (in the background) and read back while folding
        assert written_before_flush > 0
    else:  # nothing reached MongoDB before the end, and each document was written once
        assert written_before_flush == 0
        assert sum(store.written for store in stores.values()) == documents


async def test_the_rebuild_store_refuses_a_document_it_did_not_load(new_db: Databases) -> None:
    store = buffered(new_db(), "order_details", budget_bytes=1)
    await store.save("main", {"a": {"_id": "a", "n": "1"}}, {})
    await store.save("main", {"b": {"_id": "b", "n": "1"}}, {})
    await store.flush()  # "a" leaves memory
    loaded = await store.load("main", ["a", "missing"])
    assert loaded == {"a": {"_id": "a", "n": "1", "_rev": 1}}
    with pytest.raises(Conflict):
        await store.save("main", {"b": {"_id": "b", "n": "2"}}, {})  # stale: loaded as absent
    await store.save("main", {"a": {"_id": "a", "n": "2"}}, loaded)
    await store.flush()
    assert await store.find("main", "n", ["2"]) == [{"_id": "a", "n": "2", "_rev": 2}]


async def test_the_rebuild_store_finds_by_field_in_memory_and_after_eviction(
    new_db: Databases,
) -> None:
    store = buffered(new_db(), "sales")

    async def on(day: str) -> list[str]:
        return sorted(doc["_id"] for doc in await store.find("orders", "day", [day]))

    await store.save("orders", {"a": {"_id": "a", "day": "d1"}}, {})
    assert await on("d1") == ["a"]  # the index is built now
    await store.save("orders", {"b": {"_id": "b", "day": "d1"}}, {})  # indexed as saved
    await store.save("orders", {"a": {"_id": "a", "day": "d2"}}, await store.load("orders", ["a"]))
    assert (await on("d1"), await on("d2")) == (["b"], ["a"])
    store.budget_bytes = 1  # the next save sends everything to MongoDB and out of memory
    await store.save("orders", {"c": {"_id": "c", "day": "d1"}}, {})
    assert await on("d1") == ["b", "c"]  # read back through the index
    assert (await store.load("orders", ["b"]))["b"]["_rev"] == 1


async def test_the_rebuild_store_keeps_a_document_it_had_to_read_back(new_db: Databases) -> None:
    store = buffered(new_db(), "order_details", budget_bytes=200)
    for n in range(4):  # about 40 bytes each: all of them fit
        await store.save("main", {f"o{n}": {"_id": f"o{n}", "n": n}}, {})
    store.budget_bytes = 100  # the next save lets the least recent half go: o0 and o1 among them
    await store.save("main", {"o4": {"_id": "o4", "n": 4}}, {})
    await store.load("main", ["o0"])
    assert store.read_back == 1
    for n in range(5, 8):  # more evictions: o0 is now the least recent, but spared
        await store.save("main", {f"o{n}": {"_id": f"o{n}", "n": n}}, {})
    await store.load("main", ["o0"])
    assert store.read_back == 1, "o0 left memory again"
    await store.load("main", ["o1", "o2"])
    assert store.read_back == 3  # those that never came back did leave


async def test_the_rebuild_store_builds_the_mongodb_indexes_at_its_first_flush(
    new_db: Databases,
) -> None:
    db = new_db()
    store = buffered(db, "order_details")
    await store.ensure_indexes(order_details.INDEXES)
    main = db[Collections("order_details", 1).name("main")]
    assert list(await main.index_information()) == ["_id_"]  # created, not indexed yet
    await store.save("main", {"o1": {"_id": "o1", "customer_id": "c1", "placed_at": 1}}, {})
    assert [doc async for doc in main.find()] == []
    await store.flush()
    assert len(await main.index_information()) == 1 + len(order_details.INDEXES["main"])
    assert await store.find("main", "customer_id", ["c1"]) == [
        {"_id": "o1", "customer_id": "c1", "placed_at": 1, "_rev": 1}
    ]


class HeldIndexes(BufferedStore):
    """A rebuild store whose index build lasts until the test lets it end."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.building, self.release = asyncio.Event(), asyncio.Event()

    async def build_indexes(self) -> None:
        self.building.set()
        await self.release.wait()
        await super().build_indexes()


async def test_a_rebuild_keeps_its_lock_and_the_pause_while_mongodb_builds_the_indexes(
    new_db: Databases, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rebuild, "HEARTBEAT_SECONDS", 0.05)
    db = new_db()
    control = ControlState(db, ttl=0)
    lock = RebuildLock(control, "order_details")
    await lock.acquire(target_version=2, phase="replaying")
    phases: list[str] = []
    write_api = WriteApi("http://127.0.0.1:9")
    rebuilder = rebuild.Rebuilder(
        order_details.PROJECTION,
        heal=healer(write_api),
        versions=MongoVersions(db),
        control=control,
        log_=write_api,
        on_progress=lambda p: phases.append(p.phase),
    )
    store = HeldIndexes(MongoDocumentStore(db, Collections("order_details", 2)))
    await store.ensure_indexes(order_details.INDEXES)
    await store.save("main", {"o1": {"_id": "o1", "customer_id": "c1", "placed_at": 1}}, {})
    progress = rebuild.Progress("order_details")
    writing = asyncio.create_task(rebuilder._write_out(store, progress, lock, paused=True))
    try:
        await asyncio.wait_for(store.building.wait(), 30)
        # the phase was entered (with a heartbeat) before the build began: later ones renew
        before = (await control.get("order_details", fresh=True))["rebuild"]["heartbeat_at"]

        async def renewed() -> bool:
            state = await control.get("order_details", fresh=True)
            beat, phase = state["rebuild"]["heartbeat_at"], state["rebuild"]["phase"]
            paused = state.get("paused_until") is not None
            return beat > before and phase == "building indexes" and paused

        await poll(renewed, "the lock and the pause renewed during the index build", timeout=30)
    finally:
        store.release.set()
        await writing
    assert phases == ["writing documents", "building indexes"]
    assert progress.writing_seconds > 0 and progress.indexing_seconds > 0
    main = db[Collections("order_details", 2).name("main")]
    assert len(await main.index_information()) == 1 + len(order_details.INDEXES["main"])
    assert await main.count_documents({}) == 1
