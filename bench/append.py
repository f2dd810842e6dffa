"""Part 1, append: events/s of the event-store adapter with 8 concurrent writers, next to the
eventsourcing library's PostgreSQL recorder, Emmett's PostgreSQL event store (Node, through
append_emmett.py) and raw single-row INSERTs on the same server.

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

from . import append_emmett, append_engines as engines
from .servers import Stack, sealing
from .stats import PartResult, Target, format_number, rate, ratio
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
        store = PostgresEventStore(pool, **sealing(pool))
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
    "emmett": "Emmett PostgreSQL event store",
}
PEERS = {"es": "eventsourcing", "emmett": "emmett"}  # key -> name in the figures


async def run_engine(
    key: str, url: str, seconds: float, emmett: list[append_emmett.EmmettRun]
) -> engines.EngineRun:
    if key in ("raw", "raw_notify"):
        notify = key == "raw_notify"
        return await engines.run_raw(url, seconds=seconds, writers=WRITERS, notify=notify)
    if key == "ours":
        return await run_event_store(url, seconds)
    if key == "emmett":
        done = await append_emmett.run_emmett(url, seconds=seconds, writers=WRITERS)
        emmett.append(done)
        return done.appended
    return await asyncio.to_thread(run_eventsourcing, url, seconds)


async def available(result: PartResult) -> list[str]:
    """The engines that can run here; a missing peer is named in the notes."""
    keys = list(ENGINES)
    if importlib.util.find_spec("eventsourcing") is None:
        keys.remove("es")
        result.notes.append(
            "eventsourcing is not installed (dev dependency 'eventsourcing[postgres]==9.5.6'):"
            " its recorder was not measured"
        )
    if (why := await asyncio.to_thread(append_emmett.prepare)) is not None:
        keys.remove("emmett")
        result.notes.append(why)
    return keys


async def run(stack: Stack, *, quick: bool) -> PartResult:
    # Engines take turns, round after round, so that a burst of load from elsewhere on the
    # machine hits all of them rather than one.
    rounds, seconds = (1, 3.0) if quick else (4, 5.0)
    result = PartResult("append")
    keys = await available(result)
    urls = {key: await stack.create_database(f"bench_append_{key}") for key in keys}
    done: dict[str, list[engines.EngineRun]] = {key: [] for key in keys}
    emmett: list[append_emmett.EmmettRun] = []
    for n in range(rounds):
        print(f"  append: round {n + 1}/{rounds}, {seconds:.0f} s per engine ...", flush=True)
        for key in list(done):
            await engines.checkpoint(urls[key])
            try:
                done[key].append(await run_engine(key, urls[key], seconds, emmett))
            except append_emmett.EmmettFailed as exc:
                del done[key]
                result.notes.append(f"Emmett was left out, its run failed: {exc}")
    summarize(result, done, emmett)
    result.method = method(done, emmett, rounds, seconds)
    return result


def summarize(
    result: PartResult,
    done: dict[str, list[engines.EngineRun]],
    emmett: list[append_emmett.EmmettRun],
) -> None:
    """The rates, the ratios and the target; a table of the engines side by side."""
    rates = {
        k: rate(sum(r.events for r in runs), sum(r.seconds for r in runs))
        for k, runs in done.items()
    }
    for key, value in rates.items():
        result.add(f"{key}_events_per_s", value, "events/s")
    result.add("ours_vs_raw_insert", ratio(rates["ours"], rates["raw"]), "x")
    result.add("ours_vs_raw_insert_notify", ratio(rates["ours"], rates["raw_notify"]), "x")
    for key, name in PEERS.items():
        if key in rates:
            result.add(f"ours_vs_{name}", ratio(rates["ours"], rates[key]), "x")
            result.add(f"{name}_vs_raw_insert", ratio(rates[key], rates["raw"]), "x")
    if emmett:
        result.add("emmett_schema_setup_seconds", emmett[0].schema_seconds, "s")
        cpu = sum(r.cpu_seconds for r in emmett) * 1e6
        result.add(
            "emmett_node_cpu_us_per_event", ratio(cpu, sum(r.appended.events for r in emmett)), "µs"
        )
        result.add("emmett_conflicts", sum(r.conflicts for r in emmett), "appends")
    if "es" in rates:
        versus_es = result.figures["ours_vs_eventsourcing"].value
        result.targets.append(
            Target("append vs eventsourcing (8 writers)", versus_es, ">=", TARGET_RATIO, "x")
        )
    result.tables[f"{WRITERS} writers, one event per append"] = side_by_side(rates)


def side_by_side(rates: dict[str, float]) -> list[tuple[str, ...]]:
    """Each engine's rate, as a share of raw INSERTs, and how many times faster ours is."""
    rows: list[tuple[str, ...]] = [("engine", "events/s", "of raw INSERT", "ours is")]
    for key, value in rates.items():
        share, ours = 100 * ratio(value, rates["raw"]), ratio(rates["ours"], value)
        rows.append(
            (
                ENGINES[key],
                format_number(value),
                f"{format_number(share)}%",
                f"{format_number(ours)}x",
            )
        )
    return rows


def method(
    done: dict[str, list[engines.EngineRun]],
    emmett: list[append_emmett.EmmettRun],
    rounds: int,
    seconds: float,
) -> dict[str, object]:
    return {
        "writers": WRITERS,
        "rounds": rounds,
        "seconds_per_engine_per_round": seconds,
        "events_per_transaction": 1,
        "mix": "alternating: new stream (OrderPlaced) / append to own stream (OrderItemAdded)",
        "event_json_bytes": engines.payload_sizes(),
        "database": "a fresh database per engine on the same server; CHECKPOINT before each run",
        "engines": {key: runs[0].engine for key, runs in done.items() if runs},
        "eventsourcing": "PostgresApplicationRecorder.insert_events (LOCK TABLE ... IN EXCLUSIVE"
        " MODE, NOTIFY, INSERT per transaction), psycopg 3 pool, one thread per writer",
        "emmett": {
            "packages": append_emmett.packages(),
            "how": "getPostgreSQLEventStore(url).appendToStream(stream, [event],"
            " {expectedStreamVersion}) from as many concurrent async writers in one Node process"
            " (bench/emmett/append.mjs); each append is one transaction: BEGIN, SELECT"
            " emt_append_to_stream(...) (the stream row inserted, or updated where its version"
            " matches, and the message inserted), COMMIT; no NOTIFY",
            "setup": "store.schema.migrate() and one call per writer to open the pool's"
            " connections, before the clock starts",
            "schema_seconds_per_round": [round(r.schema_seconds, 3) for r in emmett],
            "warm_seconds_per_round": [round(r.warm_seconds, 3) for r in emmett],
            "node_cpu": "the Node process's own CPU time (process.cpuUsage) over the timed"
            " appends, per event appended: the client's share of the work",
        },
        "rates_per_round": {k: [round(r.rate) for r in runs] for k, runs in done.items()},
        "ours_vs_peer_per_round": per_round(done),
    }


def per_round(done: dict[str, list[engines.EngineRun]]) -> dict[str, list[float]]:
    """Ours against each peer round by round: a burst of load elsewhere shows as a spread."""
    ours = done.get("ours", [])
    return {
        f"ours_vs_{name}": [
            round(ratio(o.rate, p.rate), 2) for o, p in zip(ours, done[key], strict=True)
        ]
        for key, name in PEERS.items()
        if key in done
    }
