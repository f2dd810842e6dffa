"""Watching the crash tests' read services catch up: samples of /projections with the CPU time
of the processes involved, and the documents they end up with."""

import asyncio
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from tests.e2e.crashes.cluster import Service
from tests.read_side import (
    FIRST_VERSION_COLLECTIONS,
    PROJECTIONS,
    Doc,
    Snapshot,
    metric,
    snapshot,
    statuses,
    wait_caught_up,
)

PROJECTION_COLLECTION = re.compile(rf"({'|'.join(PROJECTIONS)})_v\d+(_[a-z]+)?")
CATCH_UP_TIMEOUT = 180.0


@dataclass(frozen=True)
class Sample:
    """One look at /projections (and at the CPU time the watched processes had used)."""

    at: float
    applied: dict[str, int]
    position: dict[str, int]
    lag: dict[str, int]
    cpu: dict[str, float | None]

    @classmethod
    def of(cls, states: dict[str, Doc], pids: dict[str, int | None]) -> "Sample":
        return cls(
            at=time.monotonic(),
            applied={n: p["events_applied"] for n, p in states.items()},
            position={n: p["position"] for n, p in states.items()},
            lag={n: p["lag_events"] for n, p in states.items()},
            cpu={
                "machine": machine_cpu_seconds(),
                **{n: cpu_seconds(pid) if pid else None for n, pid in pids.items()},
            },
        )


async def watch_catch_up(
    service: Service,
    head: int,
    *,
    pids: dict[str, int | None] | None = None,
    timeout: float = CATCH_UP_TIMEOUT,
    settle: float = 2.0,
) -> list[Sample]:
    """Wait until every projection caught up with the log up to `head` and stays so for
    `settle` seconds (several lag measurements). Returns the samples taken meanwhile."""
    samples: list[Sample] = []

    def watch(states: dict[str, Doc]) -> None:
        assert service.alive(), f"{service.name} exited\n{service.tail()}"
        samples.append(Sample.of(states, pids or {}))

    async with service.client() as reader:
        try:
            await wait_caught_up(reader, head, timeout=timeout, settle=settle, watch=watch)
        except AssertionError as exc:
            raise AssertionError(f"{service.name}: {exc}\n{service.tail()}") from None
    return samples


async def metrics_of(service: Service, name: str) -> dict[str, float]:
    """One per-projection counter or gauge from /metrics."""
    async with service.client() as reader:
        text = (await reader.get("/metrics")).text
    return {p: metric(text, name, p) for p in PROJECTIONS}


async def wait_applied(service: Service, projection: str, at_least: int, timeout: float) -> Sample:
    """Poll /projections until `projection` applied `at_least` events; the sample that saw it."""
    deadline = time.monotonic() + timeout
    states: dict[str, Doc] = {}
    async with service.client() as reader:
        while time.monotonic() < deadline:
            assert service.alive(), f"{service.name} exited\n{service.tail()}"
            states = await statuses(reader)
            now = Sample.of(states, {})
            if now.applied[projection] >= at_least:
                return now
            await asyncio.sleep(0.05)
    raise AssertionError(
        f"{projection} never applied {at_least} events in {timeout:.0f}s;"
        f" last /projections: {states}\n{service.tail()}"
    )


async def wait_ready_status(service: Service, wanted: int, timeout: float) -> float:
    """Poll /health/ready until it answers `wanted`; the seconds it took."""
    began = time.monotonic()
    answers: list[str] = []
    async with httpx.AsyncClient() as client:
        while time.monotonic() - began < timeout:
            try:
                response = await client.get(f"{service.url}/health/ready", timeout=5)
                answers.append(f"{response.status_code} {response.text[:200]}")
                if response.status_code == wanted:
                    return time.monotonic() - began
            except httpx.HTTPError as exc:
                answers.append(repr(exc))
            await asyncio.sleep(0.2)
    raise AssertionError(
        f"/health/ready never answered {wanted} in {timeout:.0f}s; last answers {answers[-3:]}"
        f"\n{service.tail()}"
    )


async def projected(mongo_url: str, database: str) -> Snapshot:
    """Every projection collection of a read service's database; it must hold no dead letter."""
    client: AsyncMongoClient[Doc] = AsyncMongoClient(mongo_url, tz_aware=True)
    try:
        db: AsyncDatabase[Doc] = client[database]
        result = await snapshot(db, only=PROJECTION_COLLECTION)
        dead = [d async for d in db["dead_letters"].find({}, {"raw": 0}).limit(3)]
        assert not dead, f"{database} has dead letters, e.g. {dead}"
        return result
    finally:
        await client.close()


def differences(left: Snapshot, right: Snapshot, *, limit: int = 5) -> list[str]:
    """Human-readable differences between two snapshots, a few of them."""
    found = []
    for name in sorted(left.keys() | right.keys()):
        a = {d["_id"]: d for d in left.get(name, [])}
        b = {d["_id"]: d for d in right.get(name, [])}
        if len(a) != len(b):
            found.append(f"{name}: {len(a)} documents vs {len(b)}")
        for doc_id in sorted(a.keys() | b.keys()):
            if a.get(doc_id) != b.get(doc_id):
                found.append(f"{name}[{doc_id}]:\n  {a.get(doc_id)}\n  {b.get(doc_id)}")
            if len(found) >= limit:
                return found
    return found


def assert_identical(left: Snapshot, right: Snapshot, what: str) -> None:
    assert set(left) == FIRST_VERSION_COLLECTIONS, f"unexpected collections {sorted(left)}"
    assert set(right) == FIRST_VERSION_COLLECTIONS, f"unexpected collections {sorted(right)}"
    diff = differences(left, right)
    assert not diff, f"{what} differ (first differences):\n" + "\n".join(diff)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux /proc), None when unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_pid(url: str) -> int | None:
    """The local process serving `url`'s port (an embedded server), if one is found."""
    port = url.rstrip("/").rsplit(":", 1)[-1]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if any(a == port or a.endswith(f":{port}") for a in args[1:]):
            return int(entry.name)
    return None


def machine_cpu_seconds() -> float | None:
    """Busy CPU time of the whole machine, all cores summed (Linux /proc/stat)."""
    try:
        fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def catch_up_report(label: str, samples: list[Sample]) -> str:
    """Events/s per projection, from the last sample before any progress to the first sample
    with its final count, and each watched process's CPU share over the whole window."""
    final = samples[-1].applied
    idle = [s for s in samples if not any(s.applied.values())]
    start = max(idle, key=lambda s: s.at, default=samples[0])
    parts, ends = [], []
    for name in PROJECTIONS:
        done = next(s for s in samples if s.applied[name] == final[name])
        took = max(done.at - start.at, 1e-3)
        ends.append(done)
        parts.append(f"{name} {final[name]} in {took:.1f}s = {final[name] / took:.0f}/s")
    end = max(ends, key=lambda s: s.at)
    seconds = max(end.at - start.at, 1e-3)
    cpu = []
    for name, before in start.cpu.items():
        after = end.cpu.get(name)
        if before is not None and after is not None:
            cpu.append(f"{name} {100 * (after - before) / seconds:.0f}%")
    return (
        f"{label}: first event applied {start.at - samples[0].at:.1f}s after ready (group join);"
        f" {sum(final.values())} events applied in {seconds:.1f}s"
        f" ({sum(final.values()) / seconds:.0f}/s over the three projections); "
        + "; ".join(parts)
        + f". CPU meanwhile (100% = one core of {os.cpu_count()}): "
        + ", ".join(cpu)
    )
