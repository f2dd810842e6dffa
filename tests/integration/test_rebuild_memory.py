"""A rebuild streams the history: its memory does not grow with the number of events replayed.

100,000 events are appended straight into the event store (multi-event appends, so writing them
takes seconds), served by a real write service, and replayed by the rebuild command into a fresh
MongoDB database. The command's peak RSS is measured three ways: its own summary line, the
kernel's high-water mark (`VmHWM`) sampled while it runs, and `wait4`'s `ru_maxrss` once it
exited. Run with `-s` to see the figures.
"""

import os
import re
import time
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from deploy.local.stack import LocalIssuer, free_port
from services.write.adapters.postgres import PostgresEventStore
from shared.contracts.envelope import EventMetadata
from shared.contracts.events import OrderLine
from tests.auth import auth_env, bearer, client_token, pii_env
from tests.backends import Backend
from tests.history import Shape, write_history
from tests.integration.measured import run_measured
from tests.services import RunningService, run_service

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

CUSTOMERS = 1_000
ORDERS = 1_000
EVENTS_PER_ORDER = 99  # OrderPlaced, 97 OrderItemAdded, then one more add, a confirm or a cancel
TOTAL_EVENTS = CUSTOMERS + ORDERS * EVENTS_PER_ORDER  # 100,000
SKUS = [f"SKU-{n:03d}" for n in range(40)]
SUMMARY = re.compile(
    r"^(?P<name>\w+): rebuilt version (?P<version>\d+): (?P<events>[\d,]+) events replayed,"
    r" (?P<documents>[\d,]+) documents, (?P<seconds>[\d.]+) s, (?P<rate>[\d,]+) events/s,"
    r" peak RSS (?P<rss>\d+) MB$",
    re.M,
)
# What replaying may add to the memory of a CLI command that connected to MongoDB and replayed
# nothing (`projections`; measured: 79 MB, against 66 MB for a bare import of the CLI, the
# difference being what connecting loads): a page of events (2,000 by default: ~1.4 MB of JSON,
# ~3.4 MB as Python objects, with the next page fetched while one is folded), the documents one
# page touches, the customers' keys for the page, the HTTP and MongoDB clients' buffers, the
# allocator's slack. A fixed amount, whatever the length of the history (measured: 29-30 MB),
# plus the documents the rebuild keeps in memory, bounded by its setting (set small here, so
# that the bound shows).
BUFFER_MB = 1.0
WORKING_SET_MB = 34.0
# How much more the second half of a replay may need than the first (measured: none).
GROWTH_MB = 12.0


def line(n: int) -> OrderLine:
    """The n-th line of a catalogue where each SKU has one name and one price."""
    k = n % len(SKUS)
    return OrderLine(
        sku=SKUS[k],
        name=f"{SKUS[k]} stainless steel insulated bottle, 750 ml, double wall, leak-proof lid,"
        " dishwasher safe, BPA free, keeps drinks cold for 24 hours, pack of 2, brushed finish",
        quantity=1 + n % 5,
        unit_price=Decimal(f"{1 + k * 3}.{k * 7 % 100:02d}"),
    )


def last_step(n: int) -> list[str]:
    return ["confirm" if n % 3 == 0 else "cancel" if n % 3 == 1 else "add"]


def metadata() -> EventMetadata:
    """What the write service records with a command's events."""
    trace, span = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    return EventMetadata(
        correlation_id=str(uuid.uuid4()),
        causation_id=str(uuid.uuid4()),
        command_id=str(uuid.uuid4()),
        traceparent=f"00-{trace}-{span}-01",
    )


# Customers are all registered first; half of them place two orders, half none. Each order: its
# 99 events in one transaction.
HISTORY = Shape(
    customers=CUSTOMERS,
    placed=2,
    adds=EVENTS_PER_ORDER - 2,
    line=lambda n, k: line(n + k),
    then=last_step,
    owners=[n % (CUSTOMERS // 2) for n in range(ORDERS)],
)


@pytest.fixture
def write_service(
    pg_database: str, issuer: LocalIssuer, tmp_path: Path
) -> Iterator[RunningService]:
    """The write API over the test's database, without its relay (nothing reads Kafka here)."""
    port = free_port()
    env = {
        **os.environ,
        **auth_env(issuer),
        "DATABASE_URL": pg_database,
        "RELAY_ENABLED": "false",
        "WRITE_PORT": str(port),
        "LOG_FORMAT": "text",
        **auth_env(issuer),
        **pii_env(),
    }
    with run_service("write", env, port, tmp_path / "write-service.log", timeout=90) as svc:
        yield svc


@pytest.fixture
async def read_database(mongo: Backend) -> AsyncIterator[str]:
    name = f"rebuild_memory_{uuid.uuid4().hex[:10]}"
    yield name
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo.url)
    try:
        await client.drop_database(name)
    finally:
        await client.close()


@dataclass(frozen=True)
class History:
    """The log as a rebuild reads it, and what holding all of it in memory would take."""

    events: int
    json_mb: float  # the feed's JSON text
    objects_mb: float  # the same events parsed into Python objects (extrapolated from one page)


async def measure_history(write_service: RunningService) -> History:
    events, size, per_event = 0, 0, 0.0
    params: dict[str, Any] = {"limit": 10_000}
    headers = bearer(client_token(write_service.env))  # the read service's, as a rebuild's
    async with httpx.AsyncClient(base_url=write_service.url, timeout=60, headers=headers) as http:
        while True:
            response = (await http.get("/events", params=params)).raise_for_status()
            if not per_event:
                tracemalloc.start()
                page = response.json()
                per_event = tracemalloc.get_traced_memory()[0] / len(page["events"])
                tracemalloc.stop()
            else:
                page = response.json()
            events += len(page["events"])
            size += len(response.content)
            if not page["has_more"]:
                return History(events, size / 2**20, per_event * events / 2**20)
            params["after"] = page["next"]


def assert_flat(rss: list[tuple[int, float]], history: History) -> None:
    """The second half of the replay needs no more memory than the first half did."""
    half = history.events // 2
    first = max(r for e, r in rss if e <= half)
    second = max(r for e, r in rss if e > half)
    # Replaying the second half reads ~half the history's JSON; keeping any of it would show.
    assert GROWTH_MB < history.json_mb / 4, "the history is too small to tell"
    assert second - first < GROWTH_MB, f"VmRSS grew from {first:.0f} to {second:.0f} MB"


async def test_rebuild_memory_stays_flat_over_100k_events(
    store: PostgresEventStore,
    write_service: RunningService,
    mongo: Backend,
    issuer: LocalIssuer,
    read_database: str,
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    await write_history(
        store,
        HISTORY,
        straight="everything",
        batch=EVENTS_PER_ORDER,
        concurrency=8,
        metadata=metadata,
    )
    history = await measure_history(write_service)
    assert history.events == TOTAL_EVENTS
    print(
        f"\nhistory: {history.events:,} events written in {time.monotonic() - started:.1f} s;"
        f" {history.json_mb:.0f} MB of feed JSON, ~{history.objects_mb:.0f} MB as Python objects"
    )
    env = {
        **os.environ,
        **auth_env(issuer),  # the rebuild asks for its own token, as in production
        "MONGODB_URL": mongo.url,
        "MONGODB_DATABASE": read_database,
        "WRITE_SERVICE_URL": write_service.url,
        "LOG_FORMAT": "text",
        "REBUILD_BUFFER_MB": str(BUFFER_MB),
    }
    baseline = await run_measured(["-m", "services.read.cli", "projections"], env, tmp_path)
    assert baseline.code == 0, baseline.stderr
    rebuilt = await run_measured(
        ["-m", "services.read.cli", "rebuild", "--projection", "order_details"], env, tmp_path
    )
    assert rebuilt.code == 0, f"rebuild failed:\n{rebuilt.stdout}\n{rebuilt.stderr}"
    summary = SUMMARY.search(rebuilt.stdout)
    assert summary is not None, rebuilt.stdout
    curve = [(e, round(r)) for e, r in rebuilt.rss if e][:: max(1, len(rebuilt.rss) // 25)]
    print(
        f"{summary.group(0)}\npeak RSS: summary {summary['rss']} MB, wait4"
        f" {rebuilt.maxrss_mb:.0f} MB, VmHWM {rebuilt.hwm_mb:.0f} MB; the `projections` command"
        f" {baseline.maxrss_mb:.0f} MB; wall time {rebuilt.seconds:.1f} s\n"
        f"(events replayed, VmRSS MB): {curve}"
    )
    assert summary["name"] == "order_details" and summary["version"] == "2"
    assert int(summary["events"].replace(",", "")) == TOTAL_EVENTS
    # Its documents: the orders, plus the projection's own copy of every customer.
    assert int(summary["documents"].replace(",", "")) == ORDERS + CUSTOMERS
    # The three measurements agree (the summary rounds to whole MB).
    assert abs(float(summary["rss"]) - rebuilt.maxrss_mb) <= 2, summary.group(0)
    assert rebuilt.maxrss_mb - 2 <= rebuilt.hwm_mb <= rebuilt.maxrss_mb + 1
    # Holding the history would cost at least its JSON text (70 MB), and as the parsed objects a
    # fold works on (~165 MB) much more: the working set allowed must stay well below the one
    # and a fraction of the other, or this would prove nothing.
    assert WORKING_SET_MB * 1.5 < history.json_mb and WORKING_SET_MB * 4 < history.objects_mb
    limit = baseline.maxrss_mb + WORKING_SET_MB
    assert rebuilt.maxrss_mb < limit, (
        f"peak RSS {rebuilt.maxrss_mb:.0f} MB > {limit:.0f} MB (the `projections` command"
        f" {baseline.maxrss_mb:.0f} MB + {WORKING_SET_MB:.0f} MB)"
    )
    assert_flat(rebuilt.rss, history)
