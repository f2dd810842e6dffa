"""Documents a consumer keeps in memory, against MongoDB: what another writer changed since (a
second replica, a rebuild's switch) is folded again from MongoDB, never written over."""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from services.read.adapters.collection_names import Collections
from services.read.adapters.documents import MongoDocumentStore
from services.read.adapters.versions import MongoVersions
from services.read.application.applier import BatchApplier
from services.read.application.healing import healer
from services.read.application.ports import Conflict
from services.read.projections import customers, order_details
from services.read.projections.base import Projection
from services.read.projections.rollup import Rollups
from tests.backends import Backend
from tests.unit.applier_world import added, event, placed
from tests.unit.read_fakes import FakeControl, FakeDeadLetters, FakeStreams
from tests.unit.record_fakes import FakeSource, Records

Doc = dict[str, Any]


@pytest.fixture
async def db(mongo: Backend) -> AsyncIterator[AsyncDatabase[Doc]]:
    client: AsyncMongoClient[Doc] = AsyncMongoClient(mongo.url, tz_aware=True)
    name = f"test_live_cache_{uuid.uuid4().hex[:12]}"
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await client.close()


class Replica:
    """One read-service replica's consumer of a projection, over the real document store."""

    def __init__(
        self, db: AsyncDatabase[Doc], control: FakeControl, records: Records, projection: Projection
    ) -> None:
        self.records, self.source = records, FakeSource()
        self.applier = BatchApplier(
            projection,
            decode=records.decode,
            versions=MongoVersions(db),
            control=control,
            dead_letters=FakeDeadLetters(),
            heal=healer(FakeStreams()),
            attempts=3,
        )

    async def apply(self, *events: Any) -> None:
        await self.applier.handle(self.source, [self.records.of(e) for e in events])


async def test_a_second_replicas_write_is_never_overwritten_by_a_kept_copy(
    db: AsyncDatabase[Doc],
) -> None:
    control, records = FakeControl(), Records()
    ours = Replica(db, control, records, order_details.PROJECTION)  # owns the order's partition
    theirs = Replica(db, control, records, order_details.PROJECTION)  # owns the customer's
    await ours.apply(placed("o1", "c1"))
    await theirs.apply(event("c1", 1, "CustomerRegistered", name="Ada", email="a@x.io"))
    await ours.apply(added("o1", 2))  # our kept copy of o1 predates their write
    order = await db["order_details_v1"].find_one({"_id": "o1"})
    assert order is not None
    assert (order["customer_name"], order["version"], order["item_count"]) == ("Ada", 2, 2)
    assert ours.source.commits and not ours.applier.status.last_error


async def test_a_rebuilds_switch_is_never_overwritten_by_what_was_kept_of_the_old_version(
    db: AsyncDatabase[Doc],
) -> None:
    control, records = FakeControl(), Records()
    ours = Replica(db, control, records, customers.PROJECTION)
    registered = event("c1", 1, "CustomerRegistered", name="Ada", email="a@x.io")
    await ours.apply(registered, placed("o1", "c1", "4.00"))
    # a rebuild folds the same history into version 2 (and more: an order the live consumer
    # has not seen yet), then switches to it
    rebuilt = MongoVersions(db).live("customers", 2)
    await customers.PROJECTION.apply(
        rebuilt,
        [registered, placed("o1", "c1", "4.00"), placed("o2", "c1", "6.00")],
        _no_gap,
        Rollups(),
    )
    control.version = 2
    await ours.apply(placed("o2", "c1", "6.00"), placed("o3", "c1", "1.00"))
    profile = await db["customers_v2"].find_one({"_id": "c1"})
    assert profile is not None
    assert (profile["order_count"], profile["lifetime_value"]) == (3, "11.00")
    old = await db["customers_v1"].find_one({"_id": "c1"})
    assert old is not None and old["order_count"] == 1, (
        "the old version was written after the switch"
    )


async def _no_gap(stream_id: str, have: int) -> list[Any]:
    raise AssertionError(f"gap in {stream_id}")


async def test_a_write_that_loses_only_duplicate_inserts_names_them(
    db: AsyncDatabase[Doc],
) -> None:
    store = MongoDocumentStore(db, Collections("order_details", 1))
    await store.save("main", {"o1": {"_id": "o1", "version": 1}}, {})
    batch = {i: {"_id": i, "version": 1} for i in ("o1", "o2", "o3")}
    with pytest.raises(Conflict) as lost:
        await store.save("main", batch, {})  # o1 exists already: a re-delivered beginning
    assert lost.value.ids == {"o1"}
    assert set(await store.load("main", ["o2", "o3"])) == {"o2", "o3"}  # the others landed

    stale = {"o2": {"_id": "o2", "version": 2}, "o4": {"_id": "o4", "version": 1}}
    with pytest.raises(Conflict) as unknown:  # a guarded replace lost too: which is not told
        await store.save("main", {**stale, "o3": batch["o3"]}, {"o2": {"_id": "o2", "_rev": 7}})
    assert unknown.value.ids == frozenset()
