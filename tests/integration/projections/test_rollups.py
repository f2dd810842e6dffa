"""Rollups kept in memory between batches: the customers and sales projections sum a group of
orders once, on first touch, and still give the documents of a full recompute, whatever other
writers did to the groups meanwhile."""

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.read.adapters.collection_names import Collections
from services.read.adapters.documents import MongoDocumentStore
from services.read.application.ports import KeyRing
from services.read.projections import customers
from services.read.projections.base import Event
from services.read.projections.rollup import Rollups
from tests.integration.projections.projecting import (
    Databases,
    Doc,
    Snapshot,
    batched,
    each_batch_twice,
    each_event_twice_in_its_batch,
    no_gaps,
    orders_first,
    projections,
    random_merge,
)
from tests.integration.projections.worked_history import History
from tests.read_side import FIRST_VERSION_COLLECTIONS, snapshot
from tests.sales_days import day_document

pytestmark = pytest.mark.integration


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

    def __init__(self, db: AsyncDatabase[Doc], keys: KeyRing) -> None:
        self.db, self.keys = db, keys
        self.projections = projections(keys)
        self.memos: dict[str, Rollups] = {name: Rollups() for name in ROLLED_UP}
        self.summed_again: dict[str, Counter[str]] = {name: Counter() for name in ROLLED_UP}

    async def apply(self, batch: Sequence[Event], *, crash: bool = False) -> None:
        for name in ROLLED_UP:
            store = WatchedStore(self, name, crash=crash)
            try:
                await self.projections[name].apply(store, batch, no_gaps, self.memos[name])
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
    writer = Writer(new_db(), history.keys)
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
    assert (
        set(got)
        == set(want)
        == {n for n in FIRST_VERSION_COLLECTIONS if n.split("_v")[0] in ROLLED_UP}
    )
    for name, docs in want.items():
        assert got[name] == docs, f"collection {name} differs"


async def test_a_rollup_is_summed_again_once_another_writer_changed_its_group(
    history: History, new_db: Databases
) -> None:
    writer = Writer(new_db(), history.keys)
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
    writer = Writer(new_db(), history.keys)
    batches = batched(history.events, 10)
    for batch in batches[:2]:
        await writer.apply(batch)
    crashing = writer if who == "the same writer" else Writer(writer.db, writer.keys)
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
    writer = Writer(new_db(), history.keys)
    for batch in batched(history.events, 10):
        await writer.apply(batch)
    # Orders 0, 4 and 8 sell APL as "Apple". Another writer saved order 0 with another name for
    # it and died before writing the day; a third one applies that batch again: the day's
    # figures and names come out the same ("Apple", 2 to 1), but the first writer's memo of
    # the day still counts order 0 as "Apple".
    first = history.orders[0]
    db = writer.db
    await db["sales_v1_orders"].update_one({"_id": first}, {"$set": {"lines.APL.0": "Zucchini"}})
    await Writer(db, history.keys).apply([e for e in history.events if e.stream_id == first])
    cancel, last = history.orders[4], history.of(history.orders[4], 4)
    cancelled = Event(
        f"{cancel}-5", "order", cancel, 5, "OrderCancelled", 10_000, last.recorded_at, {}
    )
    await writer.apply([cancelled])  # "Apple" 1, "Zucchini" 1: the greatest name
    await assert_groups_match_their_orders(db)
    days = [day async for day in db["sales_v1"].find({"products.sku": "APL"})]
    if len(days) == 1:  # unless the history ran across midnight UTC
        assert [p["name"] for p in days[0]["products"] if p["sku"] == "APL"] == ["Zucchini"]
