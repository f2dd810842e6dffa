"""Part 7, catchup: how fast each projection works off a backlog while live, against how fast a
rebuild replays the same log, and what each event costs the read service and MongoDB.

With the three projections paused through the operator API, a history shaped like live traffic
(backlog.py) goes straight into the event store and the relay publishes it. Then one projection
at a time is resumed; its catch-up lasts from the resume until its consumer group has committed
up to the topics' high-water marks (read from Kafka, polled more often as the end nears). Over
each catch-up: CPU time of the read service and of the servers, and MongoDB's operations on the
read service's database. Last, each projection is rebuilt from the same log (rebuild.py's
command) into a database of its own, the read service stopped.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .backlog import OPEN_ORDERS, append_history, live_history
from .groups import GroupOffsets, Offsets, behind
from .httpclient import HttpPool
from .processes import Service, running, start_pair
from .promtext import scrape
from .readside import PROJECTIONS, set_paused, wait_caught_up, wait_holding, wait_published
from .rebuild import Rebuilt, run_rebuild
from .servers import Stack, mongo_client
from .stats import PartResult, Target, rate, ratio
from .usage import Usage, server_pids, usage
from .workload import bearer, email_address, place_order_body

EVENTS = 30_000
TARGET_PERCENT = 50.0  # the live catch-up's rate as a share of the rebuild's replay rate
BASELINE_SECONDS = 3.0  # everything paused: what the read service and MongoDB do meanwhile
TIMEOUT = 600.0
APPLIED = "projection_events_applied_total"
READ, MONGO, BROKER = "read service", "mongodb server", "kafka broker"


@dataclass(frozen=True)
class CatchUp:
    """One projection's catch-up: records of both topics worked off, events it applied (the
    ones it folds), how long it took and what it cost."""

    projection: str
    events: int
    applied: int
    seconds: float
    cost: Usage

    @property
    def rate(self) -> float:
        return rate(self.events, self.seconds)

    def us_per_event(self, process: str) -> float:
        return ratio(self.cost.cpu.get(process, 0.0) * 1e6, self.events)

    def ops_per_event(self) -> float:
        return ratio(self.cost.database_ops.get("total", 0), self.events)


@dataclass
class Pipeline:
    """The running services as this part sees them."""

    write: HttpPool
    read: HttpPool
    offsets: GroupOffsets
    pids: dict[str, int]
    mongo: Any  # a client, kept open
    database: str  # the read service's
    groups: str  # its consumer groups' prefix
    marks: Offsets | None = None

    async def usage(self) -> Usage:
        return await usage(self.pids, self.mongo, self.database)

    async def applied(self, projection: str) -> int:
        return int((await scrape(self.read)).get(f'{APPLIED}{{projection="{projection}"}}', 0))


def next_poll(left: int, done: int, elapsed: float) -> float:
    """Seconds until the next look at the group's offsets: half of what the rest should take at
    the rate so far, between 20 and 500 ms, so that looking costs little and the end is seen
    within about 20 ms."""
    if done <= 0 or elapsed <= 0:
        return 0.05
    return min(0.5, max(0.02, 0.5 * left * elapsed / done))


async def prime(pipe: Pipeline) -> None:
    """A customer and an order through the whole pipeline: the topics exist, the consumers
    have joined their groups."""
    body = {"name": "Customer 0", "email": email_address(0)}
    answer = await pipe.write.request("POST", "/customers", json=body)
    if answer.status == 201:
        order = place_order_body(answer.json()["id"], 0)
        answer = await pipe.write.request("POST", "/orders", json=order)
    if answer.status != 201:
        raise RuntimeError(f"a command answered {answer.status}: {answer.body[:200]!r}")
    await wait_caught_up(pipe.write, pipe.read)


async def build_backlog(database_url: str, pipe: Pipeline, total: int) -> dict[str, float]:
    """Pause the projections, append the history, wait until the relay has published it."""
    since = datetime.now(UTC)
    for name in PROJECTIONS:
        await set_paused(pipe.read, name, paused=True)
    await wait_holding(pipe.mongo, pipe.database, PROJECTIONS, since=since)
    print(f"  catchup: appending {total:,} events, the projections paused ...", flush=True)
    started = time.perf_counter()
    loaded = await append_history(database_url, live_history(total))
    await wait_published(pipe.write)
    published = time.perf_counter() - started
    pipe.marks = await pipe.offsets.highwater()
    return {"history_load_seconds": loaded, "history_published_seconds": published}


async def catch_up(pipe: Pipeline, projection: str) -> CatchUp:
    """Resume one projection and time it until its group has committed the whole backlog."""
    assert pipe.marks is not None
    group = f"{pipe.groups}.{projection}"
    backlog = behind(await pipe.offsets.committed(group), pipe.marks)
    applied, before = await pipe.applied(projection), await pipe.usage()
    print(f"  catchup: resuming {projection} with {backlog:,} records behind", flush=True)
    started = time.perf_counter()
    await set_paused(pipe.read, projection, paused=False)
    left, wait = backlog, 0.05
    while left > 0:
        await asyncio.sleep(wait)
        left = behind(await pipe.offsets.committed(group), pipe.marks)
        elapsed = time.perf_counter() - started
        if elapsed > TIMEOUT:
            raise TimeoutError(f"{projection}: {left:,} records still behind after {TIMEOUT} s")
        wait = next_poll(left, backlog - left, elapsed)
    seconds = time.perf_counter() - started
    cost = (await pipe.usage()).since(before)
    applied = await pipe.applied(projection) - applied
    return CatchUp(projection, backlog, applied, seconds, cost)


async def rebuild_each(stack: Stack, write: Service) -> list[Rebuilt]:
    """Each projection rebuilt from the write service's log into a fresh database."""
    env = {
        **write.env,
        "MONGODB_URL": stack.url("mongo"),
        "MONGODB_DATABASE": stack.mongo_database(f"bench_catchup_rebuild_{uuid.uuid4().hex[:8]}"),
        "WRITE_SERVICE_URL": write.url,
    }
    return [await asyncio.to_thread(run_rebuild, env, stack.workdir, name) for name in PROJECTIONS]


async def run(stack: Stack, *, quick: bool) -> PartResult:
    total = 2_000 if quick else EVENTS
    database = await stack.create_database("bench_catchup")
    write_service, read_service = await asyncio.to_thread(start_pair, stack, database)
    with running(write_service, read_service):
        token = await asyncio.to_thread(stack.token)
        env = read_service.env
        topics = [env["CUSTOMERS_TOPIC"], env["ORDERS_TOPIC"]]
        async with (
            GroupOffsets(stack.url("kafka"), topics) as offsets,
            mongo_client(stack.url("mongo")) as mongo,
        ):
            pipe = Pipeline(
                write=HttpPool(write_service.url, headers=bearer(token)),
                read=HttpPool(read_service.url, headers=bearer(token)),
                offsets=offsets,
                mongo=mongo,
                pids={READ: read_service.pid, **server_pids(stack)},
                database=env["MONGODB_DATABASE"],
                groups=env["CONSUMER_GROUP_PREFIX"],
            )
            try:
                await prime(pipe)
                loading = await build_backlog(database, pipe, total)
                before = await pipe.usage()
                await asyncio.sleep(BASELINE_SECONDS)  # a measurement window, not a wait
                paused = (await pipe.usage()).since(before)
                caught = [await catch_up(pipe, name) for name in PROJECTIONS]
                await wait_caught_up(pipe.write, pipe.read)
            finally:
                await pipe.write.close()
                await pipe.read.close()
        read_service.stop()  # the rebuilds run alone, as in the rebuild part
        print("  catchup: rebuilding each projection from the same log ...", flush=True)
        rebuilt = await rebuild_each(stack, write_service)
    return report(total, loading, paused, caught, rebuilt)


COLUMNS = (
    "projection", "live events/s", "rebuild replay events/s", "live/rebuild",
    "read service CPU µs/event", "MongoDB CPU µs/event", "MongoDB ops/event",
)  # fmt: skip


def compare(result: PartResult, live: CatchUp, replay: Rebuilt) -> tuple[str, ...]:
    """One projection's figures and target; returns its row of the table."""
    name, share = live.projection, 100.0 * ratio(live.rate, replay.replay_rate)
    figures = {
        "live_events_per_s": (live.rate, "events/s"),
        "rebuild_replay_events_per_s": (replay.replay_rate, "events/s"),
        "live_to_rebuild": (share, "%"),
        "read_service_cpu_us_per_event": (live.us_per_event(READ), "µs"),
        "mongodb_cpu_us_per_event": (live.us_per_event(MONGO), "µs"),
        "mongodb_ops_per_event": (live.ops_per_event(), "operations"),
        "mongodb_ops": (live.cost.database_ops.get("total", 0), "operations"),
        "kafka_broker_cpu_us_per_event": (live.us_per_event(BROKER), "µs"),
        "read_service_busy": (live.cost.share_of_a_core(READ), "% of a core"),
        "mongodb_busy": (live.cost.share_of_a_core(MONGO), "% of a core"),
        "catch_up_seconds": (live.seconds, "s"),
        "events": (live.events, "events"),
        "events_applied": (live.applied, "events"),
    }
    shown = [result.add(f"{name}_{key}", *value).text() for key, value in figures.items()]
    result.targets.append(Target(f"{name} live/rebuild", share, ">=", TARGET_PERCENT, "%"))
    ops = f"{live.ops_per_event():.3f} ({figures['mongodb_ops'][0]:,.0f} in all)"
    return (name, *shown[: len(COLUMNS) - 2], ops)


def report(
    total: int,
    loading: dict[str, float],
    paused: Usage,
    caught: list[CatchUp],
    rebuilt: list[Rebuilt],
) -> PartResult:
    result = PartResult("catchup")
    rows = [COLUMNS, *(compare(result, c, r) for c, r in zip(caught, rebuilt, strict=True))]
    result.tables["live catch-up against rebuild replay"] = rows
    result.add("paused_read_service_busy", paused.share_of_a_core(READ), "% of a core")
    result.add("paused_mongodb_busy", paused.share_of_a_core(MONGO), "% of a core")
    ops = paused.database_ops.get("total", 0)
    result.add("paused_mongodb_ops_per_s", rate(ops, paused.at), "operations/s")
    result.method = {
        "history": f"{total:,} single-event appends (backlog.py): about {OPEN_ORDERS} orders under"
        " way at once, each placed, given 0-3 items, 1 in 10 losing a line, 1 in 5 cancelled,"
        " the rest confirmed and shipped; 1 customer registered per 4 orders, 1 rename and 1"
        " change of email per 20 orders",
        **{key: round(seconds, 1) for key, seconds in loading.items()},
        "events": "records of both topics from the group's committed offsets to the high-water"
        " marks (every projection consumes both; the rebuild replays them all too);"
        " *_events_applied: those the projection folds, by its own counter",
        "catch_up": "from POST /projections/{name}/resume until the group's committed offsets"
        " reach the high-water marks, polled from Kafka (20-500 ms apart, closer near the end);"
        " the other two projections stay paused meanwhile",
        "cpu": "utime + stime of the process and its children from /proc, over the catch-up",
        "mongodb_ops": "MongoDB's `top` counts over the read service's database (one per"
        " command: a bulk write is one), over the catch-up; by section in ops_by_projection",
        "ops_by_projection": {c.projection: c.cost.database_ops for c in caught},
        "server_opcounters_by_projection": {c.projection: c.cost.server_ops for c in caught},
        "paused": f"{BASELINE_SECONDS:.0f} s with all three paused, before the first resume",
        "rebuild": "python -m services.read.cli rebuild --projection NAME over the same log,"
        " into a fresh database, the read service stopped; its replay rate as it reports it",
        "rebuild_summaries": [r.summary for r in rebuilt],
    }
    return result
