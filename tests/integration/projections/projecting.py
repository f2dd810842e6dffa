"""The projections applied to batches of events as their consumers would, the ways of
rearranging and redelivering a history, and the comparison of the documents with a reference."""

import random
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar
from uuid import UUID

import httpx
import orjson
from pymongo.asynchronous.database import AsyncDatabase

from services.read.adapters.collection_names import Collections
from services.read.adapters.documents import MongoDocumentStore
from services.read.application.personal import with_personal_data
from services.read.application.ports import KeyRing
from services.read.projections import PROJECTIONS
from services.read.projections.base import Event, Heal, Projection
from services.read.projections.rollup import Rollups
from services.write.adapters.postgres import PostgresEventStore
from tests.read_side import FIRST_VERSION_COLLECTIONS
from tests.unit.read_fakes import FakeKeyRing

T = TypeVar("T")
Doc = dict[str, Any]
Snapshot = dict[str, list[Doc]]
Arrange = Callable[[list[Event]], list[Event]]
Databases = Callable[[], AsyncDatabase[Doc]]


async def no_gaps(stream_id: str, have: int) -> list[Event]:
    raise AssertionError(f"unexpected gap in {stream_id} after version {have}")


def projections(keys: KeyRing) -> dict[str, Projection]:
    """Every projection as the read service applies it: the personal values of its events
    opened with the customers' `keys`."""
    return with_personal_data(PROJECTIONS.values(), keys)


async def key_ring(store: PostgresEventStore, customers: Iterable[UUID | str]) -> FakeKeyRing:
    """The customers' keys as the event store holds them: what `POST /personal-data/keys`
    gives the read service."""
    ring = FakeKeyRing()
    found = await store.keys.ciphers([UUID(str(c)) for c in customers])
    ring.ciphers = {str(c): cipher for c, cipher in found.items() if cipher is not None}
    return ring


async def project(
    db: AsyncDatabase[Doc],
    batches: Sequence[Sequence[Event]],
    heal: Heal = no_gaps,
    *,
    keys: KeyRing,
) -> None:
    """Apply every batch to every projection, as their consumers would (each a memo of its own
    for each batch: nothing kept between batches)."""
    for batch in batches:
        for spec in projections(keys).values():
            store = MongoDocumentStore(db, Collections(spec.name, 1))
            await spec.apply(store, batch, heal, Rollups())


def batched(events: Sequence[T], size: int) -> list[list[T]]:
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


def each_batch_twice(events: list[Event]) -> list[list[Event]]:
    return [batch for batch in batched(events, 6) for _ in range(2)]


def whole_history_twice(events: list[Event]) -> list[list[Event]]:
    return batched(events, 50) + batched(random_merge(5)(events), 3)


def each_event_twice_in_its_batch(events: list[Event]) -> list[list[Event]]:
    return batched([e for e in events for _ in range(2)], 8)


# What the worked history (no stock) fills: every first version's collection but the stock's.
ORDER_COLLECTIONS = {name for name in FIRST_VERSION_COLLECTIONS if not name.startswith("stock_")}


def assert_same(got: Snapshot, want: Snapshot, collections: set[str] = ORDER_COLLECTIONS) -> None:
    assert set(got) == set(want) == collections
    for name, docs in want.items():
        assert got[name] == docs, f"collection {name} differs"


Route = Callable[[httpx.Request], httpx.Response]


def feed(rows: list[Doc]) -> httpx.MockTransport:
    """The write service's log endpoints over `rows`, as its routes answer them."""
    return httpx.MockTransport(log_routes(rows))


def log_routes(rows: list[Doc]) -> Route:
    """`GET /events`, `/events/head` and `/streams/{id}/events` over `rows`."""

    def answer(request: httpx.Request) -> httpx.Response:
        path, params = request.url.path, request.url.params
        if path == "/events/head":
            body: Doc = {"position": max(int(r["position"]) for r in rows)}
        elif path == "/events":
            start, limit = int(params.get("after", 0)), int(params["limit"])
            page = rows[start : start + limit]
            body = {"events": page, "next": str(start + len(page)), "has_more": len(page) == limit}
        else:  # /streams/{id}/events
            stream, after = path.split("/")[2], int(params.get("after_version", 0))
            found = [r for r in rows if r["stream_id"] == stream and r["version"] > after]
            if not found and after == 0:
                return httpx.Response(404)
            body = {"stream_id": stream, "events": found}
        return httpx.Response(200, content=orjson.dumps(body))

    return answer


def as_version(snap: Snapshot, version: int) -> Snapshot:
    """The collections of the snapshot of version `version`, named as version 1's."""
    named = re.compile(rf"^(\w+?)_v{version}(_\w+)?$")
    return {named.sub(r"\1_v1\2", name): docs for name, docs in snap.items() if named.match(name)}
