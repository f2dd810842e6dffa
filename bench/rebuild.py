"""Part 4, rebuild: events/s of `python -m services.read.cli rebuild --projection NAME` over a
history of 200,000 events, and the peak RSS of that read-service process. Projections are rebuilt
one after the other (order_details first) while the part stays within its time budget.

The history goes straight into the event store (multi-event appends, not timed), a write service
without its relay serves it as GET /events, and the rebuild builds into a fresh MongoDB database.
Peak RSS comes from wait4's ru_maxrss, through a small launcher: a child forked straight from this
(larger) process would inherit its high-water mark.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from services.write.adapters.migrations import migrate
from services.write.adapters.postgres import PostgresEventStore, init_connection

from .processes import ROOT, running, start_write
from .servers import Stack, sealing
from .stats import PartResult, Target, rate, ratio
from .workload import history, metadata

EVENTS = 200_000
TARGET_RATE = 20_000.0
TARGET_RSS_MB = 300.0
PROJECTIONS = ("order_details", "customers", "sales")
BUDGET_SECONDS = 120.0  # a projection expected to end past this is not started (full run)
PHASES = ("replay", "writing", "indexing", "pausing")  # as the summary names their seconds
SUMMARY = re.compile(
    r"^(?P<name>\w+): rebuilt version \d+: (?P<events>[\d,]+) events replayed,"
    r" (?P<documents>[\d,]+) documents, (?P<seconds>[\d.]+) s, (?P<rate>[\d,]+) events/s,"
    r" peak RSS (?P<rss>\d+) MB\n  serving it after (?P<switched>[\d.]+) s: replay"
    r" (?P<replay>[\d.]+) s, writing (?P<writing>[\d.]+) s, MongoDB indexes (?P<indexing>[\d.]+)"
    r" s, pause (?P<pausing>[\d.]+) s$",
    re.M,
)
LAUNCHER = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
with open(sys.argv[1], "w") as report:
    cpu = usage.ru_utime + usage.ru_stime
    print(os.waitstatus_to_exitcode(status), usage.ru_maxrss, cpu, file=report)
"""


@contextlib.asynccontextmanager
async def loading_store(
    database_url: str, writers: int, keys: Mapping[str, str]
) -> AsyncIterator[PostgresEventStore]:
    """The event store over a pool for `writers` concurrent appends, its schema migrated."""
    # Loading is not what is measured: commits need not wait for the disk here.
    pool = await asyncpg.create_pool(
        database_url,
        min_size=writers,
        max_size=writers,
        init=init_connection,
        server_settings={"synchronous_commit": "off"},
    )
    assert pool is not None
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
        yield PostgresEventStore(pool, **sealing(pool, keys))
    finally:
        await pool.close()


async def write_history(database_url: str, total: int, keys: Mapping[str, str]) -> float:
    """Append the history with 16 concurrent appends; returns the seconds it took."""
    started = time.perf_counter()
    async with loading_store(database_url, 16, keys) as store:
        streams = history(total)

        async def appender() -> None:
            # 16 of these share one generator: next() never yields, so each stream goes once
            for stream_type, stream_id, events in streams:
                await store.append(
                    stream_type=stream_type,
                    stream_id=stream_id,
                    expected_version=0,
                    events=events,
                    metadata=metadata(),
                )

        await asyncio.gather(*(appender() for _ in range(16)))
    return time.perf_counter() - started


@dataclass(frozen=True)
class Rebuilt:
    """One projection's rebuild, from its summary line and the launcher's report."""

    projection: str
    events: int
    seconds: float  # until the new version served: replay, final catch-up, switch
    total_seconds: float  # also the grace for readers of the old version, and its drop
    replay_rate: float  # as the command reports it (replay only)
    phases: dict[str, float]  # seconds of replay, writing, MongoDB indexes and pause
    peak_rss_mb: float  # wait4
    cpu_seconds: float  # wait4: the whole process, user and system
    summary: str


def run_rebuild(env: dict[str, str], workdir: Path, projection: str) -> Rebuilt:
    """The rebuild command for one projection, under the launcher that reports its peak RSS."""
    report = workdir / f"rebuild-{uuid.uuid4().hex[:6]}.rss"
    command = [sys.executable, "-c", LAUNCHER, str(report), sys.executable]
    command += ["-m", "services.read.cli", "rebuild", "--projection", projection]
    lines: list[str] = []
    with subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            print(f"    {line.rstrip()}", flush=True)
    code, maxrss_kb, cpu = report.read_text().split()
    output = "".join(lines)
    found = SUMMARY.search(output)
    if int(code) != 0 or found is None:
        raise RuntimeError(f"rebuild of {projection} exited with {code}:\n{output[-3000:]}")
    return Rebuilt(
        projection=projection,
        events=int(found["events"].replace(",", "")),
        seconds=float(found["switched"]),
        total_seconds=float(found["seconds"]),
        replay_rate=float(found["rate"].replace(",", "")),
        phases={phase: float(found[phase]) for phase in PHASES},
        peak_rss_mb=int(maxrss_kb) / 1024,
        cpu_seconds=float(cpu),
        summary=found.group(0),
    )


def rebuild_all(env: dict[str, str], workdir: Path, *, budget: float) -> list[Rebuilt]:
    """Each projection in turn, while the next one is expected to end within the budget."""
    started, done = time.perf_counter(), list[Rebuilt]()
    for projection in PROJECTIONS:
        # the same history for each: the last one's duration, with a margin, predicts the next
        if done and time.perf_counter() - started + 1.5 * done[-1].total_seconds > budget:
            break
        done.append(run_rebuild(env, workdir, projection))
    return done


async def run(stack: Stack, *, quick: bool) -> PartResult:
    total = 10_000 if quick else EVENTS
    result = PartResult("rebuild")
    database = await stack.create_database("bench_rebuild")
    print(f"  rebuild: appending {total:,} events to the store ...", flush=True)
    loaded = await write_history(database, total, stack.pii_env())
    write = await asyncio.to_thread(start_write, stack, database, relay=False)
    with running(write):
        env = {
            **write.env,
            "MONGODB_URL": stack.url("mongo"),
            "MONGODB_DATABASE": stack.mongo_database(f"bench_rebuild_{uuid.uuid4().hex[:8]}"),
            "WRITE_SERVICE_URL": write.url,
        }
        budget = 3600.0 if quick else BUDGET_SECONDS
        rebuilt = await asyncio.to_thread(rebuild_all, env, stack.workdir, budget=budget)
    overall = rate(sum(r.events for r in rebuilt), sum(r.seconds for r in rebuilt))
    peak = max(r.peak_rss_mb for r in rebuilt)
    result.method = {
        "history_events": total,
        "history": "1 customer per 4 orders; each order: placed, 2 items added, confirmed,"
        " shipped (4 in 5) or cancelled (1 in 5)",
        "history_load_seconds": round(loaded, 1),
        "command": "python -m services.read.cli rebuild --projection NAME, one process each",
        "rate": "events replayed over the time until the new version served (replay, final"
        " catch-up, switch); the old version is dropped after a 2 s grace for its readers,"
        " counted in *_total_seconds only; the command's own figure counts the replay only",
        "phases": "*_replay_seconds: reading and folding the log; *_writing_seconds: writing what"
        " was still in memory; *_indexing_seconds: MongoDB building the new version's indexes"
        " over the loaded collections; *_pausing_seconds: waiting for the live consumers",
        "peak_rss": "wait4 ru_maxrss of each rebuild process; the figure is the largest",
        "cpu": "*_cpu_us_per_event: wait4 user + system time of the rebuild process (start-up"
        " included) over the events it replayed",
        "summaries": [r.summary for r in rebuilt],
    }
    result.add("events_per_s", overall, "events/s")
    for r in rebuilt:
        result.add(f"{r.projection}_events_per_s", rate(r.events, r.seconds), "events/s")
        result.add(f"{r.projection}_replay_events_per_s", r.replay_rate, "events/s")
        result.add(f"{r.projection}_total_seconds", r.total_seconds, "s")
        for phase, seconds in r.phases.items():
            result.add(f"{r.projection}_{phase}_seconds", seconds, "s")
        result.add(f"{r.projection}_peak_rss", r.peak_rss_mb, "MB")
        cpu_us = ratio(r.cpu_seconds * 1e6, r.events)
        result.add(f"{r.projection}_cpu_us_per_event", cpu_us, "µs")
    result.add("peak_rss", peak, "MB")
    result.targets += [
        Target("rebuild rate", overall, ">=", TARGET_RATE, "events/s"),
        Target("rebuild peak RSS", peak, "<=", TARGET_RSS_MB, "MB"),
    ]
    if skipped := PROJECTIONS[len(rebuilt) :]:
        result.notes.append(
            f"not rebuilt, to stay within {budget:.0f} s: {', '.join(skipped)}"
            f" (at {rebuilt[-1].seconds:.0f} s per projection)"
        )
    return result
