"""Sealed personal data through the read service's own wiring (bootstrap's applier and
rebuilder) into MongoDB, with the write service's log and keys route standing in over HTTP:
the sealed records give the documents their clear values gave; after the erasure nothing of
the customer is left in any collection; a rebuild after it (the key gone) gives document for
document what the live path holds; the keys are asked for once a batch."""

import contextlib
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import replace

import httpx
import orjson
import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from services.read.adapters.codec import from_record, from_rows
from services.read.adapters.collection_names import Collections
from services.read.adapters.control import ControlState
from services.read.adapters.dead_letters import DeadLetters
from services.read.adapters.key_ring import HttpKeyRing
from services.read.adapters.write_api import WriteApi
from services.read.application.personal import ERASURES
from services.read.application.ports import Delivered
from services.read.bootstrap import applier, rebuilder
from services.read.connections import Connections
from services.read.projections import PROJECTIONS
from services.read.queries import erasures
from services.read.settings import ReadSettings
from shared.contracts.personal import clear_values, is_sealed
from tests.integration.projections.personal_history import (
    ANN_VALUES,
    KeysStandIn,
    PersonalHistory,
    write_personal_history,
    write_service,
)
from tests.integration.projections.projecting import (
    Databases,
    Doc,
    Snapshot,
    as_version,
    assert_same,
    batched,
    project,
)
from tests.read_side import FIRST_VERSION_COLLECTIONS, snapshot
from tests.unit.read_fakes import FakeKeyRing
from tests.unit.record_fakes import FakeSource

pytestmark = pytest.mark.integration
MARKERS = {Collections(name, 1).aux(ERASURES) for name in PROJECTIONS}
# The projections' own collections (not their shared state, nor the dead letters).
DOCUMENTS = re.compile(rf"({'|'.join(PROJECTIONS)})_v\d+(_\w+)?")


async def documents(db: AsyncDatabase[Doc]) -> Snapshot:
    return await snapshot(db, only=DOCUMENTS)


@pytest.fixture(scope="module")
def history() -> PersonalHistory:
    return write_personal_history()


@contextlib.asynccontextmanager
async def connected(
    client: AsyncMongoClient[Doc],
    db: AsyncDatabase[Doc],
    transport: httpx.MockTransport,
    *,
    ttl: float = 300.0,
) -> AsyncIterator[Connections]:
    """The read side's connections to `db` and to the write service behind `transport`."""
    api = WriteApi("http://write", transport=transport)
    keys = HttpKeyRing("http://write", transport=transport, ttl=ttl)
    try:
        yield Connections(client, db, None, api, keys)
    finally:
        await api.close()
        await keys.close()


async def live(
    connections: Connections,
    history: PersonalHistory,
    keys: KeysStandIn,
    records: Sequence[Delivered],
    *,
    size: int = 4,
    names: Iterable[str] = PROJECTIONS,
) -> None:
    """The records in batches through each projection's live applier, the customer's key
    destroyed when her erasure is appended (before its batch is applied)."""
    control = ControlState(connections.db, ttl=0)
    appliers = [
        applier(connections, name, control=control, attempts=2, cache_documents=1000)
        for name in names
    ]
    erasure = history.records[history.erasure]
    for batch in batched(records, size):
        if erasure in batch:
            keys.erase(history.ann)
        for each in appliers:
            await each.handle(FakeSource(), batch)


async def test_sealed_records_projected_with_their_keys_give_the_clear_documents(
    client: AsyncMongoClient[Doc], history: PersonalHistory, new_db: Databases
) -> None:
    before = history.records[: history.erasure]
    keys = history.stand_in()
    sealed_db, clear_db = new_db(), new_db()
    async with connected(client, sealed_db, write_service(history.rows, keys)) as connections:
        await live(connections, history, keys, before)
    clear = from_rows(history.clear_rows, trusted=True).events[: history.erasure]
    await project(clear_db, batched(clear, 4), keys=FakeKeyRing())  # nothing sealed
    got = await documents(sealed_db)
    assert_same(got, await documents(clear_db), set(FIRST_VERSION_COLLECTIONS))
    profile = next(d for d in got["customers_v1"] if d["_id"] == history.ann)
    assert (profile["name"], profile["email"]) == ("Annabel Q. Quill", "a.quill@example.org")
    assert '"alg"' not in orjson.dumps(got, default=str).decode()  # nothing left sealed
    assert await DeadLetters(sealed_db).count() == 0


async def test_after_the_erasure_nothing_of_the_customer_is_left_in_any_collection(
    client: AsyncMongoClient[Doc], history: PersonalHistory, new_db: Databases
) -> None:
    db, keys = new_db(), history.stand_in()
    async with connected(client, db, write_service(history.rows, keys)) as connections:
        await live(connections, history, keys, history.records)
    found = await documents(db)
    text = orjson.dumps(found, default=str).decode()
    assert [value for value in ANN_VALUES if value in text] == []
    assert "Ben Rowe" in text and "3 Rowe St" in text  # the other customer's stay
    profile = next(d for d in found["customers_v1"] if d["_id"] == history.ann)
    assert (profile["name"], profile["email_history"], profile["erased"]) == (None, [], True)
    assert (profile["order_count"], profile["lifetime_value"]) == (2, "33.00")
    orders = {d["_id"]: d for d in found["order_details_v1"]}
    o1, o2, o3 = (orders[o] for o in history.orders)
    for order in (o1, o3):
        assert (order["customer_name"], order["customer_email"], order["erased"]) == (
            None,
            None,
            True,
        )
        assert order["shipping_address"] == {
            "line1": None,
            "city": None,
            "postal_code": None,
            "country": "GB",
        }
    assert (o1["status"], o1["total"], o3["status"]) == ("shipped", "33.00", "cancelled")
    assert "erased" not in o2 and o2["customer_name"] == "Ben Rowe"
    assert set(found) == set(FIRST_VERSION_COLLECTIONS) | MARKERS
    for name in PROJECTIONS:
        markers = db[Collections(name, 1).aux(ERASURES)]
        assert await erasures.caught_up(markers, history.ann), name
        assert not await erasures.caught_up(markers, history.ben), name


@pytest.mark.parametrize("size", [1, 5])
async def test_a_rebuild_after_the_erasure_gives_document_for_document_the_live_documents(
    client: AsyncMongoClient[Doc], history: PersonalHistory, new_db: Databases, size: int
) -> None:
    live_db, keys = new_db(), history.stand_in()
    async with connected(client, live_db, write_service(history.rows, keys)) as connections:
        await live(connections, history, keys, history.records, size=size)
    rebuilt = new_db()
    async with connected(client, rebuilt, write_service(history.rows, keys)) as connections:
        for name in PROJECTIONS:
            progress = await rebuilder(
                connections, ReadSettings(), name, page_size=size + 2, on_progress=lambda p: None
            ).rebuild()
            assert (progress.phase, progress.target_version) == ("done", 2)
    expected = set(FIRST_VERSION_COLLECTIONS) | MARKERS
    assert_same(as_version(await documents(rebuilt), 2), await documents(live_db), expected)


async def test_the_keys_are_asked_for_once_a_batch_not_once_an_event(
    client: AsyncMongoClient[Doc], history: PersonalHistory, new_db: Databases
) -> None:
    keys = history.stand_in()
    transport = write_service(history.rows, keys)
    shown = PROJECTIONS["order_details"].personal_types
    sealed_batches = [
        [r for r in batch if _sealed(r, shown)] for batch in batched(history.records, 5)
    ]
    async with connected(client, new_db(), transport, ttl=0) as connections:  # nothing kept
        await live(connections, history, keys, history.records, size=5, names=["order_details"])
    asking = [batch for batch in sealed_batches if batch]
    assert len(keys.requests) == len(asking) < sum(len(batch) for batch in asking)
    keys.requests.clear()
    async with connected(client, new_db(), transport) as connections:  # kept between batches
        await live(connections, history, keys, history.records, size=5, names=["sales", "stock"])
    assert keys.requests == []  # projections showing no personal data ask for no key


def _sealed(record: Delivered, types: frozenset[str]) -> bool:
    """The record holds a sealed value of a type in `types`."""
    event = from_record(record)
    values = clear_values(event.data, event.event_type).values()
    return event.event_type in types and any(is_sealed(v) for v in values)


def tampered(record: Delivered) -> Delivered:
    data = orjson.loads(record.value or b"{}")
    ct = data["name"]["ct"]
    data["name"]["ct"] = ("B" if ct[0] == "A" else "A") + ct[1:]
    return replace(record, value=orjson.dumps(data))


async def test_a_value_that_does_not_open_is_dead_lettered_and_the_rest_applied(
    client: AsyncMongoClient[Doc], history: PersonalHistory, new_db: Databases
) -> None:
    db, keys = new_db(), history.stand_in()
    ann, ben = history.records[1], tampered(history.records[2])
    async with connected(client, db, write_service(history.rows, keys)) as connections:
        await live(connections, history, keys, [ann, ben], names=["customers"])
    [letter] = await DeadLetters(db).list("customers")
    assert letter["offset"] == ben.offset and letter["error"].startswith("Unreadable: ")
    assert "Benedict" not in letter["error"]
    profile = await db["customers_v1"].find_one({"_id": history.ann})
    assert profile is not None and profile["name"] == "Annabel Quill"


async def test_a_dead_letter_replayed_and_a_gap_healed_are_opened_as_the_live_path_opens_them(
    client: AsyncMongoClient[Doc], history: PersonalHistory, new_db: Databases
) -> None:
    db, keys = new_db(), history.stand_in()
    async with connected(client, db, write_service(history.rows, keys)) as connections:
        control = ControlState(db, ttl=0)
        profiles = applier(connections, "customers", control=control, attempts=1)
        await profiles.replay(history.records[2])  # Benedict's registration, dead-lettered once
        await profiles.handle(FakeSource(), [history.records[6]])  # Annabel's version 3 first
    found = {d["_id"]: d async for d in db["customers_v1"].find()}
    assert found[history.ben]["name"] == "Benedict Rowe"
    assert (found[history.ann]["name"], found[history.ann]["version"]) == ("Annabel Q. Quill", 3)
    assert found[history.ann]["email"] == "a.quill@example.org"
