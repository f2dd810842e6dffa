"""Part `personal`: the write service's CPU per command for the two commands that carry personal
data, registering a customer and placing an order, at a fixed rate.

One write service (1 uvicorn worker, relay and fulfilment process on, as deployed) over a fresh
database. After a warm-up of each, the two commands take turns for ROUNDS rounds, each sent open
loop at RATE/s for SECONDS; a round's cost is the write service's CPU time (children included,
from /proc) from its start until the relay has published everything it appended, over the
commands answered. The figure is the median round (rounds taking turns, so that what else runs
on the machine weighs on both alike); the rounds are in a table. The service's CPU at rest,
read over IDLE_SECONDS first, is reported beside it and subtracted in the `*_net` figures. The
PII key settings are passed (fresh per run) and nothing depends on them: the part runs on code
that seals personal data and on code that does not.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .httpclient import HttpPool
from .loadgen import OpenLoopRun, open_loop, overload_notes
from .processes import running, start_write
from .readside import wait_published
from .sealing_cost import REPEATS, sealing_us
from .servers import Stack
from .stats import Latency, PartResult, Target
from .usage import Usage, server_pids, usage
from .workload import bearer, email_address, place_order_body

RATE = 50.0  # commands/s: far below what one write service sustains, so CPU is not contended
ROUNDS, SECONDS, WARMUP, IDLE_SECONDS = 3, 15.0, 3.0, 10.0
QUICK = (1, 3.0, 1.0, 2.0)
COMMANDS = ("register", "place_order")

Send = Callable[[int], Awaitable[str]]


def pii_env() -> dict[str, str]:
    """Fresh keys for the write service's PII settings (ignored by code without them)."""
    fresh = (base64.b64encode(os.urandom(32)).decode() for _ in range(2))
    return dict(zip(("PII_KEK", "PII_INDEX_KEY"), fresh, strict=True))


@dataclass(frozen=True)
class Measured:
    """One command's run: what the load generator saw and what the processes spent."""

    load: OpenLoopRun
    latencies: list[float]  # seconds, each from its scheduled time
    spent: Usage

    def cpu_us(self, role: str, idle_share: float = 0.0) -> float:
        """CPU microseconds of `role` per answered command, less `idle_share` of the time."""
        seconds = self.spent.cpu.get(role, 0.0) - idle_share * self.spent.at
        return 1e6 * seconds / max(1, self.load.completed)


def timings(quick: bool) -> tuple[int, float, float, float]:
    """Rounds, seconds per round, seconds of warm-up, seconds at rest."""
    return QUICK if quick else (ROUNDS, SECONDS, WARMUP, IDLE_SECONDS)


class Runner:
    """Sends one command at RATE/s, numbering the commands across its runs."""

    def __init__(self, pool: HttpPool, pids: dict[str, int], send: Send) -> None:
        self.pool, self.pids, self.send = pool, pids, send
        self.counter = itertools.count()

    async def run(self, seconds: float) -> Measured:
        """`seconds` of commands; what they cost until the relay has published them all."""
        latencies: list[float] = []

        async def job(_: int, scheduled: float) -> None:
            await self.send(next(self.counter))
            latencies.append(time.perf_counter() - scheduled)

        await wait_published(self.pool)
        before = await usage(self.pids)
        load = await open_loop(RATE, seconds, job)
        await wait_published(self.pool)
        spent = (await usage(self.pids)).since(before)
        return Measured(load, latencies, spent)


async def rounds(runners: dict[str, Runner], *, quick: bool) -> dict[str, list[Measured]]:
    """A warm-up of each command, then the rounds, the commands taking turns in each."""
    count, seconds, warmup, _ = timings(quick)
    for runner in runners.values():
        await runner.run(warmup)
    measured: dict[str, list[Measured]] = {name: [] for name in runners}
    for n in range(count):
        for name, runner in runners.items():
            print(f"  personal: round {n + 1}/{count}, {name} at {RATE:.0f}/s ...", flush=True)
            measured[name].append(await runner.run(seconds))
    return measured


def sender(pool: HttpPool, path: str, body: Callable[[int], object], ids: list[str]) -> Send:
    """POST `body(n)` to `path`; a 201's id is kept in `ids`, anything else raises."""

    async def send(n: int) -> str:
        response = await pool.request("POST", path, json=body(n))
        if response.status != 201:
            raise RuntimeError(f"POST {path} answered {response.status}")
        ids.append(str(response.json()["id"]))
        return ids[-1]

    return send


async def idle_share(pids: dict[str, int], seconds: float) -> float:
    """The write service's CPU at rest, as a fraction of one core."""
    before = await usage(pids)
    await asyncio.sleep(seconds)  # measuring an interval of rest, not waiting for a condition
    spent = (await usage(pids)).since(before)
    return spent.cpu["write service"] / spent.at


async def run(stack: Stack, *, quick: bool) -> PartResult:
    database = await stack.create_database("bench_personal")
    write = await asyncio.to_thread(start_write, stack, database, extra=pii_env())
    with running(write):
        token = await asyncio.to_thread(stack.token)
        pool = HttpPool(write.url, max_connections=256, headers=bearer(token))
        pids = {"write service": write.pid} | server_pids(stack)
        customers: list[str] = []
        orders: list[str] = []
        try:
            idle = await idle_share(pids, timings(quick)[3])

            def order(n: int) -> object:
                return place_order_body(customers[n % len(customers)], n)

            runners = {
                "register": Runner(pool, pids, sender(pool, "/customers", registration, customers)),
                "place_order": Runner(pool, pids, sender(pool, "/orders", order, orders)),
            }
            measured = await rounds(runners, quick=quick)
        finally:
            await pool.close()
    sealing = await sealing_us(REPEATS // 10 if quick else REPEATS)
    return report(measured, idle, sealing, quick=quick)


def registration(n: int) -> dict[str, str]:
    """The body of the n-th POST /customers: a name and a unique email, both personal."""
    return {"name": f"Ada Lovelace {n}", "email": email_address(n)}


def median_round(runs: list[Measured], role: str, idle: float = 0.0) -> float:
    return statistics.median(run.cpu_us(role, idle) for run in runs)


def report(
    measured: dict[str, list[Measured]], idle: float, sealing: dict[str, float], *, quick: bool
) -> PartResult:
    result = PartResult("personal")
    count, seconds, warmup, rest = timings(quick)
    result.method = {
        "load_generator": f"open loop at {RATE:.0f} commands/s; after {warmup:.0f} s of warm-up"
        f" of each command, {count} rounds of {seconds:.0f} s of each, taking turns",
        "write_service": "1 uvicorn worker, relay and fulfilment process on, no read service",
        "cpu": "the write service's CPU time (children included, /proc) from the start of a"
        " round's run until the relay had published it all, over the commands answered; the"
        f" median round; *_net: less its CPU at rest (read over {rest:.0f} s first)",
        "sealing": "*_sealing_cpu_per_command: what sealing adds to the command's append step,"
        " timed in the benchmark's process with and without sealing (bench/sealing_cost.py);"
        " *_sealing_share: that over the command's write service CPU",
        **{
            f"{name}_rounds": [run.load.as_dict() for run in runs]
            for name, runs in measured.items()
        },
    }
    result.add("write_idle_cpu", 100 * idle, "% of a core")
    table = [("command", *(f"round {n + 1}" for n in range(count)))]
    for name, runs in measured.items():
        cpu = median_round(runs, "write service")
        result.add(f"{name}_write_cpu_per_command", cpu, "µs")
        if name in sealing:
            share = 100 * sealing[name] / cpu if cpu else 0.0
            result.add(f"{name}_sealing_cpu_per_command", sealing[name], "µs")
            result.add(f"{name}_sealing_share", share, "%")
            result.targets.append(
                Target(f"{name}: sealing's share of its CPU", share, "<=", 10.0, "%")
            )
        net = median_round(runs, "write service", idle)
        result.add(f"{name}_write_cpu_per_command_net", net, "µs")
        if "postgresql" in runs[0].spent.cpu:
            result.add(f"{name}_postgresql_cpu_per_command", median_round(runs, "postgresql"), "µs")
        every = [latency for run in runs for latency in run.latencies]
        result.add_latency(name, Latency.of_seconds(every))
        result.add(f"{name}_answered", sum(run.load.completed for run in runs), "commands")
        table.append((name, *(f"{run.cpu_us('write service'):,.0f} µs" for run in runs)))
        for run in runs:
            result.notes += overload_notes(run.load, f"{name} commands")
            if run.load.failed:
                result.notes.append(
                    f"{run.load.failed} {name} commands failed: {run.load.errors[:2]}"
                )
    result.tables["write service CPU per command, by round"] = table
    return result
