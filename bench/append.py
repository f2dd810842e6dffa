"""Part 1, append: events/s of the event-store adapter with 8 concurrent writers, next to the
eventsourcing library's PostgreSQL recorder and raw single-row INSERTs on the same server.

Every writer alternates between starting a new stream (OrderPlaced) and appending to one of its
own existing streams (OrderItemAdded), one event per transaction, as commands do. Raw INSERTs
(pgbench) of the same rows give the database's ceiling; the same INSERT with the adapter's
pg_notify shows what notifying on every commit costs. Each engine has a fresh database on the
same server and the engines take turns for several rounds, with a CHECKPOINT before each run.
"""

from __future__ import annotations

import asyncio
import importlib.util
import random
import time
import uuid
from dataclasses import dataclass, field
from uuid import UUID

from services.write.adapters.migrations import migrate
from services.write.adapters.postgres import PostgresEventStore, create_pool
from shared.contracts.events import DomainEvent

from . import append_engines as engines
from .servers import Stack
from .stats import PartResult, Target, rate, ratio
from .workload import item_added, metadata, order_placed

WRITERS = 8
TARGET_RATIO = 5.0


@dataclass
class WriterStreams:
    """One writer's streams and versions: even steps start a stream, odd steps extend one."""

    seed: int
    versions: dict[UUID, int] = field(default_factory=dict)
    steps: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._ids: list[UUID] = []
        customer = uuid.uuid4()
        self._placed = [order_placed(customer, n) for n in range(16)]
        self._added = [item_added(n) for n in range(16)]

    def next(self) -> tuple[UUID, int, DomainEvent]:
        """(stream id, expected version, event) of the next append."""
        self.steps += 1
        if self.steps % 2 or not self._ids:
            stream_id = uuid.uuid4()
            return stream_id, 0, self._placed[self.steps % 16]
        stream_id = self._rng.choice(self._ids)
        return stream_id, self.versions[stream_id], self._added[self.steps % 16]

    def done(self, stream_id: UUID, version: int) -> None:
        if stream_id not in self.versions:
            self._ids.append(stream_id)
        self.versions[stream_id] = version


async def run_event_store(database_url: str, seconds: float) -> engines.EngineRun:
    """The project's adapter: PostgresEventStore.append from 8 asyncio tasks, one pool."""
    pool = await create_pool(database_url, min_size=WRITERS, max_size=WRITERS)
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
        store = PostgresEventStore(pool)
        metas = [metadata() for _ in range(64)]

        async def writer(n: int, deadline: float) -> int:
            streams, count = WriterStreams(seed=n), 0
            while time.perf_counter() < deadline:
                stream_id, expected, event = streams.next()
                await store.append(
                    stream_type="order",
                    stream_id=stream_id,
                    expected_version=expected,
                    events=[event],
                    metadata=metas[count % len(metas)],
                )
                streams.done(stream_id, expected + 1)
                count += 1
            return count

        started = time.perf_counter()
        counts = await asyncio.gather(*(writer(n, started + seconds) for n in range(WRITERS)))
        elapsed = time.perf_counter() - started
    finally:
        await pool.close()
    return engines.EngineRun("event store adapter (asyncpg)", sum(counts), elapsed)


def run_eventsourcing(database_url: str, seconds: float) -> engines.EngineRun:
    """eventsourcing's PostgresApplicationRecorder.insert_events from 8 threads."""
    recorder = engines.EventsourcingRecorder(database_url, pool_size=WRITERS)
    try:
        return recorder.run(
            writers=[WriterStreams(seed=n) for n in range(WRITERS)], seconds=seconds
        )
    finally:
        recorder.close()


ENGINES = {
    "raw": "raw single-row INSERT",
    "raw_notify": "raw INSERT + pg_notify",
    "ours": "event store adapter",
    "es": "eventsourcing recorder",
}


async def run_engine(key: str, url: str, seconds: float) -> engines.EngineRun:
    if key in ("raw", "raw_notify"):
        notify = key == "raw_notify"
        return await engines.run_raw(url, seconds=seconds, writers=WRITERS, notify=notify)
    if key == "ours":
        return await run_event_store(url, seconds)
    return await asyncio.to_thread(run_eventsourcing, url, seconds)


async def run(stack: Stack, *, quick: bool) -> PartResult:
    # Engines take turns, round after round, so that a burst of load from elsewhere on the
    # machine hits all of them rather than one.
    rounds, seconds = (1, 3.0) if quick else (4, 5.0)
    result = PartResult("append")
    keys = list(ENGINES)
    if importlib.util.find_spec("eventsourcing") is None:
        keys.remove("es")
        result.notes.append(
            "eventsourcing is not installed (dev dependency 'eventsourcing[postgres]==9.5.6'):"
            " its recorder was not measured"
        )
    urls = {key: await stack.create_database(f"bench_append_{key}") for key in keys}
    done: dict[str, list[engines.EngineRun]] = {key: [] for key in keys}
    for n in range(rounds):
        print(f"  append: round {n + 1}/{rounds}, {seconds:.0f} s per engine ...", flush=True)
        for key in keys:
            await engines.checkpoint(urls[key])
            done[key].append(await run_engine(key, urls[key], seconds))
    rates = {}
    for key, runs in done.items():
        rates[key] = rate(sum(r.events for r in runs), sum(r.seconds for r in runs))
        result.add(f"{key}_events_per_s", rates[key], "events/s")
    result.add("ours_vs_raw_insert", ratio(rates["ours"], rates["raw"]), "x")
    result.add("ours_vs_raw_insert_notify", ratio(rates["ours"], rates["raw_notify"]), "x")
    if "es" in rates:
        versus_es = ratio(rates["ours"], rates["es"])
        result.add("ours_vs_eventsourcing", versus_es, "x")
        result.add("eventsourcing_vs_raw_insert", ratio(rates["es"], rates["raw"]), "x")
        result.targets.append(
            Target("append vs eventsourcing (8 writers)", versus_es, ">=", TARGET_RATIO, "x")
        )
    result.method = {
        "writers": WRITERS,
        "rounds": rounds,
        "seconds_per_engine_per_round": seconds,
        "events_per_transaction": 1,
        "mix": "alternating: new stream (OrderPlaced) / append to own stream (OrderItemAdded)",
        "event_json_bytes": engines.payload_sizes(),
        "database": "a fresh database per engine on the same server; CHECKPOINT before each run",
        "engines": {key: runs[0].engine for key, runs in done.items()},
        "eventsourcing": "PostgresApplicationRecorder.insert_events (LOCK TABLE ... IN EXCLUSIVE"
        " MODE, NOTIFY, INSERT per transaction), psycopg 3 pool, one thread per writer",
        "rates_per_round": {k: [round(r.rate) for r in runs] for k, runs in done.items()},
    }
    return result
