"""Part 3, freshness: from a command's response to the change being visible in the read API.

Commands go out open loop at a fixed 300/s, alternating PlaceOrder and AddOrderItem. For one
command in TRACK_EVERY, its response is followed at once by
GET /orders/{id}?min_version=<its version>, which the read service answers as soon as the
order_details projection reached that version. Freshness is that GET's completion minus the
command's response time: what a client doing read-your-writes waits, HTTP round trip included.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

from .httpclient import HttpPool
from .loadgen import open_loop, overload_notes
from .processes import running, start_pair
from .promtext import Samples, mean_between, scrape
from .servers import Stack
from .stats import Latency, PartResult, Target, rate
from .workload import add_item_body, bearer, place_order_body, register_customers

TARGET_RATE = 300.0  # commands/s; python -m bench --freshness-rate N measures another rate
TARGET_P99_MS = 150.0
WAIT_MS = 5000
# Every min_version request re-reads MongoDB whenever order_details writes anything, so each
# waiter adds load that grows with the lag; tracking a sample keeps the observer light.
TRACK_EVERY = 5
GIVE_UP_SECONDS = 60.0
RELAY, APPLY = "outbox_publish_latency_seconds", "projection_apply_latency_seconds"
CUSTOMERS = 100


class FreshnessProbe:
    """The job of one scheduled command: send it; for every TRACK_EVERY-th, wait until the read
    API shows it."""

    def __init__(self, write: HttpPool, read: HttpPool, customers: list[str]) -> None:
        self.write, self.read, self.customers = write, read, customers
        self.idle: deque[str] = deque()  # orders with no command in flight
        self.command_latency: list[float] = []
        self.freshness: list[float] = []
        self.censored: list[float] = []  # not visible yet when the run ended: lower bounds
        self.record = True
        self.first_scheduled, self.last_answered = 0.0, 0.0

    async def __call__(self, i: int, scheduled: float) -> None:
        if i % 2 and self.idle:
            path, body = f"/orders/{self.idle.popleft()}/items", add_item_body(i)
        else:
            path, body = "/orders", place_order_body(self.customers[i % len(self.customers)], i)
        response = await self.write.request("POST", path, json=body)
        answered = time.perf_counter()
        if response.status not in (200, 201):
            raise RuntimeError(f"command answered {response.status}: {response.body[:200]!r}")
        accepted = response.json()
        if self.record:
            self.first_scheduled = self.first_scheduled or scheduled
            self.last_answered = max(self.last_answered, answered)
            self.command_latency.append(answered - scheduled)
        if i % TRACK_EVERY == 0:
            await self.observe(accepted["id"], accepted["version"], answered)
        self.idle.append(accepted["id"])

    async def observe(self, order_id: str, version: int, answered: float) -> None:
        """Wait (WAIT_MS at a time, 503 meaning "not yet") until the order reached `version`."""
        path = f"/orders/{order_id}?min_version={version}&wait_ms={WAIT_MS}"
        try:
            while (seen := await self.read.request("GET", path)).status == 503:
                if time.perf_counter() - answered > GIVE_UP_SECONDS:
                    raise TimeoutError(f"order {order_id} v{version} not visible after 60 s")
        except asyncio.CancelledError:  # the run ended first: it took longer than this, at least
            if self.record:
                self.censored.append(time.perf_counter() - answered)
            raise
        if seen.status != 200:
            raise RuntimeError(f"GET {path} answered {seen.status}: {seen.body[:200]!r}")
        if self.record:
            self.freshness.append(time.perf_counter() - answered)


async def prime(probe: FreshnessProbe) -> None:
    """One command end to end first: the consumers have joined their groups, topics exist."""
    record, probe.record = probe.record, False
    try:
        body = place_order_body(probe.customers[0], 0)
        accepted = (await probe.write.request("POST", "/orders", json=body)).json()
        await probe.observe(accepted["id"], accepted["version"], time.perf_counter())
    finally:
        probe.record = record


def stage_means(before: list[Samples], after: list[Samples]) -> dict[str, float]:
    """Mean time per stage over the run, from the services' own histograms: event recorded to
    broker acknowledgement (relay), and recorded to applied, per projection."""
    stages = {"relay_recorded_to_acked_mean": mean_between(before[0], after[0], RELAY)}
    for projection in ("order_details", "customers", "sales"):
        label = f'projection="{projection}"'
        stages[f"{projection}_recorded_to_applied_mean"] = mean_between(
            before[1], after[1], APPLY, label
        )
    return stages


async def run(stack: Stack, *, quick: bool, offered: float = TARGET_RATE) -> PartResult:
    seconds, warmup = (3.0, 1.0) if quick else (30.0, 3.0)
    result = PartResult("freshness")
    database = await stack.create_database("bench_fresh")
    write_service, read_service = await asyncio.to_thread(start_pair, stack, database)
    with running(write_service, read_service):
        token = await asyncio.to_thread(stack.token)
        count = 20 if quick else CUSTOMERS
        customers = await register_customers(write_service.url, count, token=token)
        write = HttpPool(write_service.url, max_connections=512, headers=bearer(token))
        read = HttpPool(read_service.url, max_connections=512, headers=bearer(token))
        probe = FreshnessProbe(write, read, customers)
        try:
            await prime(probe)
            probe.record = False
            await open_loop(offered, warmup, probe)
            probe.record = True
            print(f"  freshness: {offered:.0f} commands/s for {seconds:.0f} s ...", flush=True)
            before = [await scrape(write), await scrape(read)]
            load = await open_loop(offered, seconds, probe)
            stages = stage_means(before, [await scrape(write), await scrape(read)])
        finally:
            await write.close()
            await read.close()
    # changes still invisible at the end count with the time they had waited: a lower bound
    fresh = Latency.of_seconds(probe.freshness + probe.censored)
    command = Latency.of_seconds(probe.command_latency)
    result.method = {
        "load_generator": "open loop (bench.loadgen, asyncio + uvloop, HTTP/1.1 keep-alive);"
        " latency from the scheduled send time",
        "rate_per_s": offered,
        "seconds": seconds,
        "warmup_seconds": warmup,
        "visibility_check": f"GET /orders/{{id}}?min_version=N&wait_ms={WAIT_MS} right after"
        f" the command's response, for 1 command in {TRACK_EVERY}",
        "freshness_samples": fresh.count,
        "freshness_lower_bounds": len(probe.censored),
        "commands": "alternating PlaceOrder / AddOrderItem (to an order with no command in flight)",
        "load": load.as_dict(),
    }
    result.add_latency("freshness", fresh)
    result.add_latency("command", command)
    achieved = rate(len(probe.command_latency), probe.last_answered - probe.first_scheduled)
    result.add("achieved_rate", achieved, "commands/s")
    result.add("failed", load.failed, "commands")
    result.add("unfinished", len(load.unfinished_ages), "commands")
    result.add("not_visible_at_end", len(probe.censored), "commands")
    for key, value in stages.items():
        result.add(key, value, "ms")
    if offered == TARGET_RATE:
        result.targets.append(Target("freshness p99", fresh.p99_ms, "<=", TARGET_P99_MS, "ms"))
    else:
        result.notes.append(f"at {offered:.0f} commands/s, not the target's {TARGET_RATE:.0f}/s")
    if achieved < offered * 0.95:
        result.notes.append(
            f"the offered {offered:.0f}/s was not reached ({achieved:.0f}/s answered)"
        )
    result.notes += overload_notes(load, "commands")
    if probe.censored:
        result.notes.append(
            f"{len(probe.censored)} tracked changes were not visible yet when the run ended: they"
            " count with the time they had waited, so the percentiles are lower bounds"
        )
    return result
