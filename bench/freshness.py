"""Part 3, freshness: from a command's response to the change being visible in the read API.

Commands go out open loop at a fixed 300/s, alternating PlaceOrder and AddOrderItem. For one
command in TRACK_EVERY, its response is followed at once by
GET /orders/{id}?min_version=<its version>, which the read service answers as soon as the
order_details projection reached that version. Freshness is that GET's completion minus the
command's response time: what a client doing read-your-writes waits, HTTP round trip included.

Then, on the same services, a search for the highest rate whose p99 stays within the bound
(ratesearch.py): short runs at rates doubled from SEARCH_START while they pass, then bisected;
the read side catches up before each.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from .freshprobe import TRACK_EVERY, WAIT_MS, FreshnessProbe, prime
from .httpclient import HttpPool
from .loadgen import OpenLoopRun, open_loop, overload_notes
from .processes import running, start_pair
from .promtext import Samples, mean_between, scrape
from .ratesearch import RateSearch
from .readside import wait_caught_up
from .servers import Stack
from .stats import Latency, PartResult, Target, format_number, rate
from .workload import bearer, register_customers

TARGET_RATE = 300.0  # commands/s; python -m bench --freshness-rate N measures another rate
TARGET_P99_MS = 150.0
RELAY, APPLY = "outbox_publish_latency_seconds", "projection_apply_latency_seconds"
CUSTOMERS = 100
SEARCH_START, SEARCH_SECONDS = 100.0, 20.0  # commands/s of the first step; seconds of each


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


@dataclass(frozen=True)
class Measured:
    """One run at one rate."""

    offered: float
    fresh: Latency
    command: Latency
    achieved: float
    load: OpenLoopRun
    censored: int
    stages: dict[str, float]

    @property
    def passed(self) -> bool:
        """Within the bound, at the offered rate, every command answered."""
        kept = self.load.kept_up and not self.load.failed and self.achieved >= self.offered * 0.95
        return kept and self.fresh.p99_ms <= TARGET_P99_MS


async def measure(probe: FreshnessProbe, offered: float, seconds: float, warmup: float) -> Measured:
    """A warm-up, then `seconds` of commands at `offered`/s, the probe recording."""
    probe.reset(record=False)
    await open_loop(offered, warmup, probe)
    probe.reset(record=True)
    before = [await scrape(probe.write), await scrape(probe.read)]
    load = await open_loop(offered, seconds, probe)
    stages = stage_means(before, [await scrape(probe.write), await scrape(probe.read)])
    return Measured(
        offered=offered,
        # changes still invisible at the end count with the time they had waited: lower bounds
        fresh=Latency.of_seconds(probe.freshness + probe.censored),
        command=Latency.of_seconds(probe.command_latency),
        achieved=rate(len(probe.command_latency), probe.last_answered - probe.first_scheduled),
        load=load,
        censored=len(probe.censored),
        stages=stages,
    )


async def search(probe: FreshnessProbe, *, quick: bool) -> list[Measured]:
    """Short runs at rates chosen by a RateSearch, the read side caught up before each."""
    seconds, warmup = (3.0, 1.0) if quick else (SEARCH_SECONDS, 2.0)
    found = RateSearch(SEARCH_START, bisections=1 if quick else 3, max_steps=4 if quick else 10)
    steps = []
    while (offered := found.next()) is not None:
        await wait_caught_up(probe.write, probe.read)
        print(f"  freshness search: {offered:.0f} commands/s for {seconds:.0f} s ...", flush=True)
        steps.append(await measure(probe, offered, seconds, warmup))
        found.record(offered, steps[-1].passed)
    return steps


async def run(stack: Stack, *, quick: bool, offered: float = TARGET_RATE) -> PartResult:
    seconds, warmup = (3.0, 1.0) if quick else (30.0, 3.0)
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
            print(f"  freshness: {offered:.0f} commands/s for {seconds:.0f} s ...", flush=True)
            fixed = await measure(probe, offered, seconds, warmup)
            steps = await search(probe, quick=quick)
        finally:
            await write.close()
            await read.close()
    result = report_fixed(fixed, seconds=seconds, warmup=warmup)
    report_search(result, steps)
    return result


def report_fixed(fixed: Measured, *, seconds: float, warmup: float) -> PartResult:
    """The run at the fixed rate: its figures, the target at the target's rate."""
    result = PartResult("freshness")
    offered, load = fixed.offered, fixed.load
    result.method = {
        "load_generator": "open loop (bench.loadgen, asyncio + uvloop, HTTP/1.1 keep-alive);"
        " latency from the scheduled send time",
        "rate_per_s": offered,
        "seconds": seconds,
        "warmup_seconds": warmup,
        "visibility_check": f"GET /orders/{{id}}?min_version=N&wait_ms={WAIT_MS} right after"
        f" the command's response, for 1 command in {TRACK_EVERY}",
        "freshness_samples": fixed.fresh.count,
        "freshness_lower_bounds": fixed.censored,
        "commands": "alternating PlaceOrder / AddOrderItem (to an order with no command in flight)",
        "load": load.as_dict(),
    }
    result.add_latency("freshness", fixed.fresh)
    result.add_latency("command", fixed.command)
    result.add("achieved_rate", fixed.achieved, "commands/s")
    result.add("failed", load.failed, "commands")
    result.add("unfinished", len(load.unfinished_ages), "commands")
    result.add("not_visible_at_end", fixed.censored, "commands")
    for key, value in fixed.stages.items():
        result.add(key, value, "ms")
    if offered == TARGET_RATE:
        result.targets.append(
            Target("freshness p99", fixed.fresh.p99_ms, "<=", TARGET_P99_MS, "ms")
        )
    else:
        result.notes.append(f"at {offered:.0f} commands/s, not the target's {TARGET_RATE:.0f}/s")
    if fixed.achieved < offered * 0.95:
        result.notes.append(
            f"the offered {offered:.0f}/s was not reached ({fixed.achieved:.0f}/s answered)"
        )
    result.notes += overload_notes(load, "commands")
    if fixed.censored:
        result.notes.append(
            f"{fixed.censored} tracked changes were not visible yet when the run ended: they"
            " count with the time they had waited, so the percentiles are lower bounds"
        )
    return result


def report_search(result: PartResult, steps: list[Measured]) -> None:
    """The search's steps, in the order taken, and the highest rate that passed."""
    rows: list[tuple[str, ...]] = [
        ("step", "offered/s", "achieved/s", "samples", "freshness p50", "freshness p99", "verdict")
    ]
    for n, step in enumerate(steps, 1):
        verdict = "pass" if step.passed else "fail" + ("" if step.load.kept_up else " (overloaded)")
        p50, p99 = (f"{format_number(ms)} ms" for ms in (step.fresh.p50_ms, step.fresh.p99_ms))
        shown = (f"{step.offered:.0f}", f"{step.achieved:.0f}", str(step.fresh.count), p50, p99)
        rows.append((str(n), *shown, verdict))
    result.tables[f"search for the highest rate with freshness p99 <= {TARGET_P99_MS:.0f} ms"] = (
        rows
    )
    best = max((s.offered for s in steps if s.passed), default=0.0)
    result.add("search_highest_rate", best, "commands/s")
    result.method["search"] = (
        f"from {SEARCH_START:.0f}/s: doubled while a step passed, halved while it failed, then"
        " bisected; a step passes when its p99 is within the bound, every command was answered"
        " and 95% of the offered rate was reached; the read side caught up before each step"
    )
    result.method["search_steps"] = [
        {
            "offered_per_s": s.offered,
            "achieved_per_s": round(s.achieved, 1),
            "freshness_p50_ms": round(s.fresh.p50_ms, 1),
            "freshness_p99_ms": round(s.fresh.p99_ms, 1),
            "freshness_samples": s.fresh.count,
            "passed": s.passed,
            "load": s.load.as_dict(),
        }
        for s in steps
    ]
