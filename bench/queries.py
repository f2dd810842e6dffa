"""Part 5, queries: p50/p99 of GET /orders/{id} and of GET /customers/{id}/orders, each at a
fixed 1,000 requests/s (open loop, latency from the scheduled time), over orders placed through
the write API and projected through Kafka before the clock starts."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

import httpx

from .httpclient import HttpPool
from .loadgen import OpenLoopRun, open_loop, overload_notes
from .processes import running, start_pair
from .servers import Stack
from .stats import Latency, PartResult, Target
from .workload import bearer, place_orders, register_customers

RATE = 1000.0
TARGET_P99_MS = 15.0
CUSTOMERS, ORDERS = 200, 2000  # ten orders per customer: a full first page of a customer's orders


async def wait_visible(
    read_url: str, orders: list[str], *, token: str, timeout: float = 120.0
) -> None:
    """Every seeded order readable from the read side (projected through Kafka)."""
    gate = asyncio.Semaphore(16)
    headers = bearer(token)
    async with httpx.AsyncClient(base_url=read_url, timeout=timeout, headers=headers) as http:

        async def visible(order_id: str) -> None:
            async with gate:
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline:
                    params = {"min_version": 1, "wait_ms": 5000}
                    if (await http.get(f"/orders/{order_id}", params=params)).status_code == 200:
                        return
                raise TimeoutError(f"order {order_id} not visible within {timeout:.0f} s")

        await asyncio.gather(*(visible(o) for o in orders))


class QueryJob:
    """GET a path chosen per request; records latency from the scheduled time."""

    def __init__(self, pool: HttpPool, path: Callable[[int], str]) -> None:
        self.pool, self.path = pool, path
        self.latency: list[float] = []
        self.record = True

    async def __call__(self, i: int, scheduled: float) -> None:
        response = await self.pool.request("GET", self.path(i))
        if response.status != 200:
            raise RuntimeError(f"GET {self.path(i)} answered {response.status}")
        if self.record:
            self.latency.append(time.perf_counter() - scheduled)


async def measure(
    pool: HttpPool, path: Callable[[int], str], *, seconds: float, warmup: float
) -> tuple[Latency, OpenLoopRun]:
    job = QueryJob(pool, path)
    job.record = False
    await open_loop(RATE, warmup, job)
    job.record = True
    load = await open_loop(RATE, seconds, job)
    # requests cancelled unanswered count with their age then: a lower bound of their latency
    return Latency.of_seconds(job.latency + load.unfinished_ages), load


async def run(stack: Stack, *, quick: bool) -> PartResult:
    seconds, warmup = (3.0, 1.0) if quick else (30.0, 3.0)
    customers_n, orders_n = (20, 200) if quick else (CUSTOMERS, ORDERS)
    result = PartResult("queries")
    database = await stack.create_database("bench_queries")
    write_service, read_service = await asyncio.to_thread(start_pair, stack, database)
    with running(write_service, read_service):
        token = await asyncio.to_thread(stack.token)
        customers = await register_customers(write_service.url, customers_n, token=token)
        orders = await place_orders(write_service.url, customers, orders_n, token=token)
        await wait_visible(read_service.url, orders, token=token)
        pool = HttpPool(read_service.url, max_connections=512, headers=bearer(token))
        rng = random.Random(7)
        try:
            print(f"  queries: GET /orders/{{id}} at {RATE:.0f}/s for {seconds:.0f} s", flush=True)
            by_id, by_id_load = await measure(
                pool, lambda i: f"/orders/{rng.choice(orders)}", seconds=seconds, warmup=warmup
            )
            print(f"  queries: a customer's orders at {RATE:.0f}/s for {seconds:.0f} s", flush=True)
            listed, listed_load = await measure(
                pool,
                lambda i: f"/customers/{rng.choice(customers)}/orders",
                seconds=seconds,
                warmup=warmup,
            )
        finally:
            await pool.close()
    result.method = {
        "load_generator": "open loop (bench.loadgen, asyncio + uvloop, HTTP/1.1 keep-alive);"
        " latency from the scheduled send time; requests cancelled unanswered count with"
        " their age (a lower bound)",
        "rate_per_s": RATE,
        "seconds_each": seconds,
        "warmup_seconds": warmup,
        "data": f"{customers_n} customers, {orders_n} orders (placed via the write API)",
        "customer_orders_page": "default limit 20, newest first (each customer has 10 orders)",
        "load_order_by_id": by_id_load.as_dict(),
        "load_customer_orders": listed_load.as_dict(),
    }
    result.add_latency("order_by_id", by_id)
    result.add("order_by_id_achieved_rate", by_id_load.achieved_rate, "requests/s")
    result.add_latency("customer_orders", listed)
    result.add("customer_orders_achieved_rate", listed_load.achieved_rate, "requests/s")
    result.add("failed", by_id_load.failed + listed_load.failed, "requests")
    unfinished = len(by_id_load.unfinished_ages) + len(listed_load.unfinished_ages)
    result.add("unfinished", unfinished, "requests")
    result.targets += [
        Target("GET /orders/{id} p99", by_id.p99_ms, "<=", TARGET_P99_MS, "ms"),
        Target("customer's orders p99", listed.p99_ms, "<=", TARGET_P99_MS, "ms"),
    ]
    for name, load in (("GET /orders/{id}", by_id_load), ("customer orders", listed_load)):
        if load.achieved_rate < RATE * 0.95:
            result.notes.append(
                f"{name}: the offered {RATE:.0f}/s was not reached ({load.achieved_rate:.0f}/s)"
            )
        result.notes += overload_notes(load, f"{name} requests")
    return result
