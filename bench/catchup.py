"""Part 7, catchup: how fast each projection works off a backlog while live, against how fast a
rebuild of the same log gets its new version serving, and what each event costs the read
service and MongoDB.

With the three projections paused through the operator API, a history shaped like live traffic
(backlog.py: few customers, many orders each) goes straight into the event store and the relay
publishes it. Then one projection at a time is resumed; its catch-up lasts from the resume until
its consumer group has committed up to the topics' high-water marks (read from Kafka every 2% of
the time so far, 20 ms at least). Over each catch-up: CPU time of the read service and of the
servers, and MongoDB's operations on the read service's database. Then each projection is
rebuilt from the same log (rebuild.py's command) into a database of its own, the read service
stopped, and the documents of both sides are counted (catchup_report.py has the figures).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from .backlog import append_history, live_history
from .catchup_report import BASELINE_SECONDS, READ, CatchUp, Side, report
from .groups import GroupOffsets, Offsets, behind
from .httpclient import HttpPool
from .processes import Service, running, start_pair
from .projected import held
from .promtext import scrape
from .readside import PROJECTIONS, set_paused, wait_caught_up, wait_holding, wait_published
from .rebuild import run_rebuild
from .servers import Stack, mongo_client
from .stats import PartResult
from .usage import Usage, server_pids, usage
from .workload import bearer, email_address, place_order_body

EVENTS = 30_000
TIMEOUT = 600.0
APPLIED = "projection_events_applied_total"


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
    keys: Mapping[str, str]  # the write service's personal-data keys
    marks: Offsets | None = None

    async def usage(self) -> Usage:
        return await usage(self.pids, self.mongo, self.database)

    async def applied(self, projection: str) -> int:
        return int((await scrape(self.read)).get(f'{APPLIED}{{projection="{projection}"}}', 0))


def next_poll(elapsed: float) -> float:
    """Seconds until the next look at the group's offsets: 2% of the time so far, between 20
    and 500 ms, so that the end is seen within 2% of the catch-up's time (20 ms for one under a
    second) and a long one is looked at rarely. The rate so far cannot say when the end comes:
    the offsets move a batch at a time (up to 20,000 records at once)."""
    return min(0.5, max(0.02, 0.02 * elapsed))


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
    loaded = await append_history(database_url, live_history(total), pipe.keys)
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
    left, wait = backlog, next_poll(0.0)
    while left > 0:
        await asyncio.sleep(wait)
        left = behind(await pipe.offsets.committed(group), pipe.marks)
        elapsed = time.perf_counter() - started
        if elapsed > TIMEOUT:
            raise TimeoutError(f"{projection}: {left:,} records still behind after {TIMEOUT} s")
        wait = next_poll(elapsed)
    seconds = time.perf_counter() - started
    cost = (await pipe.usage()).since(before)
    applied = await pipe.applied(projection) - applied
    return CatchUp(projection, backlog, applied, seconds, cost)


async def rebuild_each(stack: Stack, write: Service, mongo: Any) -> list[Side]:
    """Each projection rebuilt from the write service's log into a fresh database, and the
    documents it left there."""
    database = stack.mongo_database(f"bench_catchup_rebuild_{uuid.uuid4().hex[:8]}")
    env = {
        **write.env,
        "MONGODB_URL": stack.url("mongo"),
        "MONGODB_DATABASE": database,
        "WRITE_SERVICE_URL": write.url,
    }
    sides = []
    for name in PROJECTIONS:
        rebuilt = await asyncio.to_thread(run_rebuild, env, stack.workdir, name)
        sides.append(Side(rebuilt, await held(mongo, database, name)))
    return sides


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
                keys=stack.pii_env(),
            )
            try:
                loading, paused, caught = await live(pipe, database, total)
            finally:
                await pipe.write.close()
                await pipe.read.close()
            read_service.stop()  # the rebuilds run alone, as in the rebuild part
            print("  catchup: rebuilding each projection from the same log ...", flush=True)
            sides = await rebuild_each(stack, write_service, mongo)
    return report(total, loading, paused, caught, sides)


async def live(
    pipe: Pipeline, database_url: str, total: int
) -> tuple[dict[str, float], Usage, list[CatchUp]]:
    """The backlog, a quiet window with everything paused, then each projection's catch-up
    and, once all have caught up, the documents each holds."""
    await prime(pipe)
    loading = await build_backlog(database_url, pipe, total)
    before = await pipe.usage()
    await asyncio.sleep(BASELINE_SECONDS)  # a measurement window, not a wait
    paused = (await pipe.usage()).since(before)
    caught = [await catch_up(pipe, name) for name in PROJECTIONS]
    await wait_caught_up(pipe.write, pipe.read)
    counted = [replace(c, held=await held(pipe.mongo, pipe.database, c.projection)) for c in caught]
    return loading, paused, counted
