"""The freshness part's probe: it sends each scheduled command and, for one in TRACK_EVERY,
waits until the read API shows the change."""

from __future__ import annotations

import asyncio
import time
from collections import deque

from .httpclient import HttpPool
from .workload import add_item_body, place_order_body

WAIT_MS = 5000
# Every min_version request re-reads MongoDB whenever order_details writes anything, so each
# waiter adds load that grows with the lag; tracking a sample keeps the observer light.
TRACK_EVERY = 5
GIVE_UP_SECONDS = 60.0


class FreshnessProbe:
    """The job of one scheduled command: send it; for every TRACK_EVERY-th, wait until the read
    API shows it."""

    def __init__(self, write: HttpPool, read: HttpPool, customers: list[str]) -> None:
        self.write, self.read, self.customers = write, read, customers
        self.idle: deque[str] = deque()  # orders with no command in flight
        self.reset(record=True)

    def reset(self, *, record: bool) -> None:
        """Forget what was measured; from now on, record it or not."""
        self.command_latency: list[float] = []
        self.freshness: list[float] = []
        self.censored: list[float] = []  # not visible yet when the run ended: lower bounds
        self.record = record
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
