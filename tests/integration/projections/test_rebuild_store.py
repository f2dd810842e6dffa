"""The rebuild's store, which buffers documents in memory: the same documents as the live
path's, documents evicted and read back, the MongoDB indexes built at its first flush, and a
rebuild's lock and pause kept while they are built."""

import asyncio
from typing import Any

import pytest
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
from services.read.projections import PROJECTIONS, order_details
from services.read.projections.rollup import Rollups
from tests.integration.projections.projecting import (
    Databases,
    Doc,
    Snapshot,
    assert_same,
    batched,
    no_gaps,
    projections,
    random_merge,
)
from tests.integration.projections.worked_history import History
from tests.polling import poll
from tests.read_side import snapshot

pytestmark = pytest.mark.integration


def buffered(db: AsyncDatabase[Doc], projection: str, **options: Any) -> BufferedStore:
    """The rebuild's store over version 1 of a projection in MongoDB."""
    return BufferedStore(MongoDocumentStore(db, Collections(projection, 1)), **options)


@pytest.mark.parametrize("budget", [10_000_000, 2_000])
async def test_a_rebuild_buffering_documents_in_memory_writes_the_same_documents(
    history: History, reference: Snapshot, new_db: Databases, budget: int
) -> None:
    """The rebuild's store: all in memory, or with documents leaving memory and read back."""
    db = new_db()
    wrapped = projections(history.keys)
    stores = {name: buffered(db, name, budget_bytes=budget) for name in wrapped}
    memos = {name: Rollups() for name in PROJECTIONS}
    for batch in batched(random_merge(3)(history.events), 20):
        for spec in wrapped.values():
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
