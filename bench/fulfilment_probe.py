"""The fulfilment part's probe and arithmetic: orders with tracked lines placed open loop, each
one's OrderStockReserved read back from PostgreSQL, and the rule a search step passes by."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx

from shared.contracts.events import MAX_QUANTITY, ORDER_PLACED, ORDER_REJECTED, ORDER_STOCK_RESERVED

from .httpclient import HttpPool
from .loadgen import OpenLoopRun
from .stats import Latency
from .workload import ADDRESS, SKUS, bearer, line

TARGET_RATE = 100.0  # orders/s
TARGET_P99_MS = 500.0
SEARCH_BOUND_MS = 1000.0  # a search step passes with every order reserved within this (p99)
SEARCH_START, SEARCH_SECONDS = 100.0, 10.0  # orders/s of the first step; seconds of each
STOCK_PER_SKU = MAX_QUANTITY  # the most one receipt takes: far more than any run orders
MAX_LINES = 3
BODIES = 500  # distinct bodies, cycled (the ids are the server's: repeating a body is harmless)
SEED = 20_250
GRACE_SECONDS = 10.0  # after the last answer, for the process to reserve what is left
POLL_SECONDS = 0.2
SETTLED = [ORDER_STOCK_RESERVED, ORDER_REJECTED]

# Every order of the benchmark has tracked lines, so the process is behind by the orders placed
# and neither reserved nor rejected yet.
BACKLOG = """
SELECT count(*) FILTER (WHERE event_type = $1)
       - count(DISTINCT stream_id) FILTER (WHERE event_type = ANY($2))
FROM events WHERE stream_type = 'order'
"""
OUTCOMES = """
SELECT stream_id, event_type, recorded_at FROM events
WHERE stream_id = ANY($1::uuid[]) AND event_type = ANY($2)
"""
STOCK_VERSIONS = "SELECT max(version) FROM events WHERE stream_type = 'stock' GROUP BY stream_id"


def tracked_body(customer_id: str, rng: random.Random) -> dict[str, Any]:
    """POST /orders with one to three lines of distinct tracked SKUs, quantity 1 each."""
    picked = rng.sample(range(len(SKUS)), rng.randint(1, MAX_LINES))
    items = [line(k).model_copy(update={"quantity": 1}).model_dump(mode="json") for k in picked]
    address = ADDRESS.model_dump(mode="json")
    return {
        "customer_id": customer_id,
        "currency": "EUR",
        "items": items,
        "shipping_address": address,
    }


def tracked_bodies(customers: Sequence[str], count: int = BODIES) -> list[dict[str, Any]]:
    """`count` bodies spread over `customers`, the same ones at every run (seeded)."""
    rng = random.Random(SEED)
    return [tracked_body(customers[n % len(customers)], rng) for n in range(count)]


async def receive_stock(write_url: str, skus: Sequence[str], *, token: str) -> None:
    """A receipt of STOCK_PER_SKU units for each SKU (not timed): every SKU becomes tracked."""
    async with httpx.AsyncClient(base_url=write_url, timeout=30, headers=bearer(token)) as http:
        for sku in skus:
            response = await http.post(f"/stock/{sku}/receipts", json={"quantity": STOCK_PER_SKU})
            if response.status_code not in (200, 201):
                raise RuntimeError(
                    f"receipt of {sku} answered {response.status_code}: {response.text}"
                )


class PlacementProbe:
    """The job of one scheduled order: place it, note when its response arrived."""

    def __init__(self, write: HttpPool, bodies: list[dict[str, Any]]) -> None:
        self.write, self.bodies = write, bodies
        self.placed = 0  # every order, warm-ups included
        self.reset(record=True)

    def reset(self, *, record: bool) -> None:
        """Forget what was measured; from now on, record it or not."""
        self.answered: dict[str, float] = {}  # order id -> wall-clock time of its response
        self.command_latency: list[float] = []
        self.first_scheduled, self.last_answered = 0.0, 0.0
        self.record = record

    async def __call__(self, i: int, scheduled: float) -> None:
        response = await self.write.request(
            "POST", "/orders", json=self.bodies[i % len(self.bodies)]
        )
        wall, answered = time.time(), time.perf_counter()
        if response.status != 201:
            raise RuntimeError(f"POST /orders answered {response.status}: {response.body[:200]!r}")
        self.placed += 1
        if self.record:
            self.answered[response.json()["id"]] = wall
            self.first_scheduled = self.first_scheduled or scheduled
            self.last_answered = max(self.last_answered, answered)
            self.command_latency.append(answered - scheduled)


@dataclass(frozen=True)
class Outcomes:
    """What the process did with some orders: when each reserved one was, which were rejected."""

    reserved: dict[str, float]  # order id -> recorded_at of OrderStockReserved (epoch seconds)
    rejected: frozenset[str]


@dataclass(frozen=True)
class Paired:
    """Each placed order's latency to OrderStockReserved, or the time it had waited in vain."""

    latencies: list[float]  # seconds: reserved (recorded_at) minus the response's arrival
    censored: list[float]  # neither reserved nor rejected when the wait ended: lower bounds
    rejected: int

    @property
    def unsettled(self) -> int:
        """Orders that did not end reserved: still waiting, or rejected."""
        return len(self.censored) + self.rejected

    def latency(self) -> Latency:
        """Percentiles with the orders still waiting counted at their age (lower bounds)."""
        return Latency.of_seconds(self.latencies + self.censored)


def pair(answered: Mapping[str, float], outcomes: Outcomes, *, ended: float) -> Paired:
    """Match each answered order (id -> response time) with its reservation; those never
    reserved by `ended` count with the time they had waited, the rejected ones apart."""
    latencies, censored, rejected = [], [], 0
    for order_id, at in answered.items():
        if (reserved := outcomes.reserved.get(order_id)) is not None:
            latencies.append(reserved - at)
        elif order_id in outcomes.rejected:
            rejected += 1
        else:
            censored.append(ended - at)
    return Paired(latencies, censored, rejected)


def passes(
    paired: Paired, load: OpenLoopRun, *, achieved: float, offered: float, bound_ms: float
) -> bool:
    """The process kept up: every order answered and reserved, the p99 from response to
    OrderStockReserved within `bound_ms`, and 95% of the offered rate reached."""
    answered_all = load.kept_up and not load.failed
    reserved_all = paired.unsettled == 0 and bool(paired.latencies)
    in_time = paired.latency().p99_ms <= bound_ms
    return answered_all and reserved_all and in_time and achieved >= offered * 0.95


@dataclass(frozen=True)
class Measured:
    """One run at one rate."""

    offered: float
    paired: Paired
    command: Latency  # scheduled send to response
    achieved: float
    load: OpenLoopRun
    orders: int  # answered in the measured run
    cpu: dict[str, float]  # CPU seconds by process, over the run and the wait after it

    @property
    def reserved(self) -> Latency:
        return self.paired.latency()

    @property
    def passed(self) -> bool:
        return passes(
            self.paired,
            self.load,
            achieved=self.achieved,
            offered=self.offered,
            bound_ms=SEARCH_BOUND_MS,
        )


@dataclass
class Runs:
    """Everything the part measured on one write service, and the bare endpoint's run."""

    fixed: Measured
    steps: list[Measured]
    notes: list[str]
    stock_versions: dict[str, float]  # how long the SKUs' streams were after the search
    service: dict[str, Any] | None = None  # wrk on the write service, and the process after it
    bare: dict[str, Any] | None = None


async def backlog(conn: asyncpg.Connection) -> int:
    """Orders placed that the process has neither reserved nor rejected yet."""
    return int(await conn.fetchval(BACKLOG, ORDER_PLACED, SETTLED))


async def wait_backlog(
    conn: asyncpg.Connection, timeout: float, *, poll: float = POLL_SECONDS
) -> int:
    """Poll (every `poll` seconds at most) until the process has settled every order placed,
    or `timeout` seconds passed; returns what is still waiting."""
    deadline = time.monotonic() + timeout
    while True:
        started = time.monotonic()
        if not (left := await backlog(conn)) or started >= deadline:
            return left
        # the count reads the whole log: polled no more than a fifth of the time it takes
        await asyncio.sleep(max(poll, 4 * (time.monotonic() - started)))


async def outcomes(conn: asyncpg.Connection, ids: Collection[str]) -> Outcomes:
    """The OrderStockReserved and OrderRejected events of the orders `ids`."""
    rows = await conn.fetch(OUTCOMES, list(ids), SETTLED)
    reserved: dict[str, float] = {}
    for row in rows:  # an order reserved again (an item added since) keeps its first
        if row["event_type"] == ORDER_STOCK_RESERVED:
            at, order_id = row["recorded_at"].timestamp(), str(row["stream_id"])
            reserved[order_id] = min(at, reserved.get(order_id, at))
    rejected = frozenset(str(r["stream_id"]) for r in rows if r["event_type"] == ORDER_REJECTED)
    return Outcomes(reserved, rejected)


async def stock_versions(conn: asyncpg.Connection) -> dict[str, float]:
    """How long the SKUs' stock streams have grown: mean and longest, in events."""
    versions = [int(row[0]) for row in await conn.fetch(STOCK_VERSIONS)]
    if not versions:
        return {"mean": 0.0, "max": 0.0}
    return {"mean": round(sum(versions) / len(versions), 1), "max": float(max(versions))}
