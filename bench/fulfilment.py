"""Part `fulfilment`: from an order's placement to its stock reserved by the fulfilment process.

Stock is received for every SKU of the catalogue, far more than the run orders, so that orders
are reserved, never rejected. Orders of one to three tracked lines go out open loop at a fixed
100/s; for each, the latency is the recorded_at of its OrderStockReserved (read from PostgreSQL
after the run) minus the time its POST /orders response arrived. Then, on the same service, a
search for the highest rate the process keeps up with (ratesearch.py); then the http part's wrk
run on these orders, beside the bare endpoint, with the process at work.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from .fulfilment_probe import (
    GRACE_SECONDS,
    SEARCH_SECONDS,
    SEARCH_START,
    TARGET_RATE,
    Measured,
    PlacementProbe,
    Runs,
    backlog,
    outcomes,
    pair,
    receive_stock,
    stock_versions,
    tracked_bodies,
    wait_backlog,
)
from .fulfilment_report import report
from .http import LUA, durations, ensure_wrk, measure as measure_wrk
from .httpclient import HttpPool
from .loadgen import open_loop
from .processes import running, start_bare, start_write
from .ratesearch import RateSearch
from .servers import Stack
from .stats import Latency, PartResult, rate
from .usage import server_pids, usage
from .workload import SKUS, bearer, register_customers

CUSTOMERS = 100
PRIME_SECONDS = 60.0
CATCH_UP_SECONDS = 120.0  # before a search step, for the process to clear the last one's orders
DRAIN_SECONDS = 60.0  # after wrk: how fast the process works through what it left
# Said explicitly: a variable of the calling shell must not turn the process off.
ENABLED = {"FULFILMENT_ENABLED": "true"}


@dataclass(frozen=True)
class Bench:
    """What every run of the part uses: the probe, the database, the processes to account."""

    url: str  # the write service's
    probe: PlacementProbe
    db: asyncpg.Connection
    pids: dict[str, int]


async def measure(bench: Bench, offered: float, seconds: float, warmup: float) -> Measured:
    """A warm-up, then `seconds` of orders at `offered`/s; then up to GRACE_SECONDS for the
    process to reserve what is left, and each order paired with its OrderStockReserved."""
    probe = bench.probe
    probe.reset(record=False)
    await open_loop(offered, warmup, probe)
    probe.reset(record=True)
    before = await usage(bench.pids)
    load = await open_loop(offered, seconds, probe)
    await wait_backlog(bench.db, GRACE_SECONDS)
    ended = time.time()
    spent = (await usage(bench.pids)).since(before)
    paired = pair(probe.answered, await outcomes(bench.db, probe.answered), ended=ended)
    achieved = rate(len(probe.command_latency), probe.last_answered - probe.first_scheduled)
    command = Latency.of_seconds(probe.command_latency)
    return Measured(offered, paired, command, achieved, load, len(probe.answered), spent.cpu)


async def prime(bench: Bench) -> None:
    """One order reserved end to end first: the process is running and leading."""
    bench.probe.reset(record=False)
    await bench.probe(0, time.perf_counter())
    if await wait_backlog(bench.db, PRIME_SECONDS):
        raise RuntimeError(
            f"the fulfilment process reserved no order within {PRIME_SECONDS:.0f} s"
            " (is it enabled and leading?)"
        )


async def search(bench: Bench, *, quick: bool) -> tuple[list[Measured], list[str]]:
    """Short runs at rates chosen by a RateSearch, the process caught up before each."""
    seconds, warmup = (3.0, 1.0) if quick else (SEARCH_SECONDS, 2.0)
    found = RateSearch(SEARCH_START, bisections=1 if quick else 3, max_steps=4 if quick else 10)
    steps: list[Measured] = []
    notes = []
    while (offered := found.next()) is not None:
        if left := await wait_backlog(bench.db, CATCH_UP_SECONDS):
            notes.append(
                f"before the {offered:.0f}/s step, {left} orders were still waiting for the"
                f" process after {CATCH_UP_SECONDS:.0f} s"
            )
        print(f"  fulfilment search: {offered:.0f} orders/s for {seconds:.0f} s ...", flush=True)
        steps.append(await measure(bench, offered, seconds, warmup))
        found.record(offered, steps[-1].passed)
    return steps, notes


def wrk_script(path: Path, bodies: list[dict[str, Any]], token: str) -> Path:
    """The http part's wrk script, on these bodies."""
    # Lua long strings need no escaping; JSON never holds their closing "]==]"
    listed = ", ".join(f"[==[{orjson.dumps(body).decode()}]==]" for body in bodies)
    path.write_text(LUA % {"bodies": listed, "token": token})
    return path


async def wrk_service(bench: Bench, wrk: str, url: str, script: Path, *, quick: bool) -> Any:
    """wrk on the write service; then how many orders the process had left behind, and how
    fast it worked through them (for up to DRAIN_SECONDS)."""
    seconds, warmup = durations(quick)
    print("  fulfilment: write service, POST /orders with tracked lines (wrk) ...", flush=True)
    summary = await measure_wrk(wrk, url, script, seconds=seconds, warmup=warmup)
    started, behind = time.perf_counter(), await backlog(bench.db)
    # rarely polled: the count would compete with the process it watches
    left = await wait_backlog(bench.db, 10.0 if quick else DRAIN_SECONDS, poll=2.0)
    took = time.perf_counter() - started
    summary["process"] = {"behind_at_end": behind, "left_after_drain": left, "drain_seconds": took}
    summary["process"]["drain_rate"] = rate(behind - left, took)
    return summary


async def wrk_bare(stack: Stack, wrk: str, script: Path, *, quick: bool) -> Any:
    """The same wrk run on the bare endpoint, the write service stopped."""
    seconds, warmup = durations(quick)
    bare_app = await asyncio.to_thread(start_bare, stack)
    with running(bare_app):
        print("  fulfilment: bare endpoint (wrk) ...", flush=True)
        return await measure_wrk(wrk, bare_app.url, script, seconds=seconds, warmup=warmup)


async def measure_all(bench: Bench, wrk: str | None, script: Path, *, quick: bool) -> Runs:
    """The fixed rate, the search, then wrk, on the same write service."""
    seconds, warmup = (3.0, 1.0) if quick else (30.0, 3.0)
    await prime(bench)
    print(f"  fulfilment: {TARGET_RATE:.0f} orders/s for {seconds:.0f} s ...", flush=True)
    fixed = await measure(bench, TARGET_RATE, seconds, warmup)
    steps, notes = await search(bench, quick=quick)
    runs = Runs(fixed, steps, notes, await stock_versions(bench.db))
    if wrk is not None:
        runs.service = await wrk_service(bench, wrk, bench.url, script, quick=quick)
    return runs


async def run(stack: Stack, *, quick: bool) -> PartResult:
    wrk = await asyncio.to_thread(ensure_wrk)
    database = await stack.create_database("bench_fulfil")
    write = await asyncio.to_thread(start_write, stack, database, extra=ENABLED)
    with running(write):
        token = await asyncio.to_thread(stack.token)
        customers = await register_customers(write.url, 20 if quick else CUSTOMERS, token=token)
        await receive_stock(write.url, SKUS, token=token)
        bodies = tracked_bodies(customers)
        script = wrk_script(stack.workdir / "fulfilment.lua", bodies, token)
        pool = HttpPool(write.url, max_connections=512, headers=bearer(token))
        db = await asyncpg.connect(database)
        pids = {"write service": write.pid} | server_pids(stack)
        try:
            bench = Bench(write.url, PlacementProbe(pool, bodies), db, pids)
            runs = await measure_all(bench, wrk, script, quick=quick)
        finally:
            await pool.close()
            await db.close()
    if wrk is not None:
        runs.bare = await wrk_bare(stack, wrk, script, quick=quick)
    return report(runs, quick=quick, customers=len(customers), wrk=wrk is not None)
