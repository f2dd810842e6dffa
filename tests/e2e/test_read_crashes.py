"""The read service survives crashes: `kill -9` mid-catch-up, and MongoDB going away mid-stream.

Each test runs the write service and one or more read services as real processes over the
session's PostgreSQL, Kafka and MongoDB. The proof of "nothing lost, nothing applied twice" is
twofold: the interrupted service ends with exactly the documents of an uninterrupted one (minus
`_rev`, a write counter), and those documents agree with the write side's streams.

Throughput figures (events/s during catch-up, and the CPU share of the read process and of the
servers meanwhile) are printed; run with `-s` to see them.
"""

import asyncio
import contextlib
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
import orjson
import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from deploy.local.stack import LocalIssuer, free_port
from services.write.adapters.migrations import migrate
from services.write.adapters.postgres import PostgresEventStore, create_pool
from services.write.application.handlers import CommandContext, CommandHandlers
from services.write.domain.commands import (
    CancelOrder,
    PlaceOrder,
    RegisterCustomer,
    RenameCustomer,
)
from shared.contracts.envelope import EventMetadata
from shared.contracts.events import OrderItemAdded
from tests.auth import auth_env, bearer, token
from tests.backends import Backend
from tests.services import ROOT, wait_ready

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

Doc = dict[str, Any]
Snapshot = dict[str, list[Doc]]
CTX = CommandContext()
ADDRESS = {"line1": "1 Main St", "city": "Paris", "postal_code": "75001", "country": "FR"}
PRICES = {"SKU-A": Decimal("2.50"), "SKU-B": Decimal("10.00"), "SKU-C": Decimal("0.99")}
PROJECTIONS = ("order_details", "customers", "sales")
COLLECTIONS = {
    "order_details_v1",
    "order_details_v1_customers",
    "customers_v1",
    "customers_v1_orders",
    "sales_v1",
    "sales_v1_orders",
}
PROJECTION_COLLECTION = re.compile(r"(order_details|customers|sales)_v\d+(_[a-z]+)?")
CATCH_UP_TIMEOUT = 180.0


# --- processes -------------------------------------------------------------------------------


@dataclass
class Service:
    """One service process; restarting it keeps its env (port, database, group prefix)."""

    name: str
    module: str
    env: dict[str, str]
    log: Path
    headers: dict[str, str] = field(default_factory=dict)  # what its clients send: a token
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        port = self.env["READ_PORT" if self.module == "services.read" else "WRITE_PORT"]
        return f"http://127.0.0.1:{port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def launch(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", self.module], cwd=ROOT, env=self.env, stdout=out, stderr=out
            )
        try:
            wait_ready(self.url, self.proc, self.log, timeout=90)
        except BaseException:
            self.kill()
            raise

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, nothing is flushed or committed."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(15)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"--- last lines of {self.name}'s log ({self.log}) ---\n" + "\n".join(
            text.splitlines()[-lines:]
        )


class Cluster:
    """A write service and read services sharing one event store and one pair of topics."""

    def __init__(
        self, *, pg_url: str, kafka: Backend, mongo: Backend, issuer: LocalIssuer, logs: Path
    ) -> None:
        suffix = uuid4().hex[:8]
        self.pg_url, self.mongo_url, self.logs = pg_url, mongo.url, logs
        self.env = {
            **os.environ,
            **auth_env(issuer),
            "DATABASE_URL": pg_url,
            "KAFKA_BOOTSTRAP_SERVERS": kafka.url,
            "KAFKA_ENABLE_IDEMPOTENCE": "false" if kafka.kind == "embedded" else "true",
            "CUSTOMERS_TOPIC": f"customers.{suffix}",
            "ORDERS_TOPIC": f"orders.{suffix}",
            "RELAY_MARKER_TOPIC": f"marker.{suffix}",
            "KAFKA_PARTITIONS": "3",
            "RELAY_POLL_SECONDS": "0.2",
            "LOG_FORMAT": "text",
        }
        self.headers = bearer(token(issuer))  # staff: every scope
        self.write = Service("write", "services.write", {}, logs / "write.log", self.headers)
        self.readers: list[Service] = []

    async def start_write(self) -> Service:
        """The write API with its relay: it publishes whatever the store holds."""
        self.write.env = {**self.env, "WRITE_PORT": str(free_port()), "RELAY_ENABLED": "true"}
        await asyncio.to_thread(self.write.launch)
        return self.write

    async def start_read(self, name: str) -> Service:
        """A read service with a database and consumer groups of its own."""
        suffix = uuid4().hex[:8]
        env = {
            **self.env,
            "MONGODB_URL": self.mongo_url,
            "MONGODB_DATABASE": f"crash_{name}_{suffix}",
            "CONSUMER_GROUP_PREFIX": f"crash-{name}-{suffix}",
            "WRITE_SERVICE_URL": self.write.url,
            "READ_PORT": str(free_port()),
            "LAG_POLL_SECONDS": "0.2",
            "KAFKA_SESSION_TIMEOUT_MS": "6000",
            # A catch-up in many batches, so that a kill can land between two of them.
            "BATCH_MAX_RECORDS": "1000",
        }
        log = self.logs / f"read-{name}.log"
        service = Service(f"read-{name}", "services.read", env, log, self.headers)
        self.readers.append(service)
        await asyncio.to_thread(service.launch)
        return service

    def close(self) -> None:
        for service in [*self.readers, self.write]:
            service.stop()


@pytest.fixture
async def cluster(
    pg_database: str, kafka: Backend, mongo: Backend, issuer: LocalIssuer, tmp_path: Path
) -> AsyncIterator[Cluster]:
    made = Cluster(pg_url=pg_database, kafka=kafka, mongo=mongo, issuer=issuer, logs=tmp_path)
    try:
        yield made
    finally:
        made.close()
        await drop_databases(mongo.url, [r.env["MONGODB_DATABASE"] for r in made.readers])


async def drop_databases(url: str, names: list[str]) -> None:
    client: AsyncMongoClient[Doc] = AsyncMongoClient(url, serverSelectionTimeoutMS=5000)
    try:
        for name in names:
            await client.drop_database(name)
    except Exception as exc:  # noqa: BLE001 - cleanup must not mask the test's outcome
        print(f"could not drop the read databases: {exc!r}")
    finally:
        await client.close()


# --- the write side --------------------------------------------------------------------------


async def write_history(pg_url: str, *, customers: int, adds: int) -> None:
    """About customers * (adds + 2.6) events, fast: commands for the aggregates' first events,
    then the item additions appended in batches straight into the store."""
    pool = await create_pool(pg_url, min_size=1, max_size=16)
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
        store = PostgresEventStore(pool)
        handlers = CommandHandlers(store)
        gate = asyncio.Semaphore(16)

        async def one(n: int) -> None:
            async with gate:
                await customer_with_order(handlers, store, n, adds)

        await asyncio.gather(*(one(n) for n in range(customers)))
    finally:
        await pool.close()


async def customer_with_order(
    handlers: CommandHandlers, store: PostgresEventStore, n: int, adds: int
) -> None:
    skus = list(PRICES)
    customer = await handlers.register_customer(
        RegisterCustomer(name=f"Customer {n}", email=f"c{n}.{uuid4().hex[:6]}@crash.test"), CTX
    )
    sku = skus[n % 3]
    first = {"sku": sku, "name": sku, "quantity": 1, "unit_price": PRICES[sku]}
    order = await handlers.place_order(
        PlaceOrder(
            customer_id=customer.stream_id,
            items=[first],
            shipping_address=ADDRESS,
            currency="EUR",
        ),
        CTX,
    )
    version = order.version
    lines = [(skus[(n + k) % 3], 1 + k % 4) for k in range(adds)]
    for start in range(0, adds, 8):
        events = [
            OrderItemAdded(sku=sku, name=sku, quantity=quantity, unit_price=PRICES[sku])
            for sku, quantity in lines[start : start + 8]
        ]
        await store.append(
            stream_type="order",
            stream_id=order.stream_id,
            expected_version=version,
            events=events,
            metadata=EventMetadata(),
        )
        version += len(events)
    if n % 4 == 0:  # a customer event far behind its order's: denormalization must follow
        await handlers.rename_customer(customer.stream_id, RenameCustomer(name=f"Renamed {n}"), CTX)
    if n % 5 == 0:
        await handlers.confirm_order(order.stream_id, CTX)
    if n % 7 == 0:
        await handlers.cancel_order(order.stream_id, CancelOrder(reason="changed my mind"), CTX)


async def rename(write: Service, customer_id: str, name: str) -> None:
    async with httpx.AsyncClient(base_url=write.url, timeout=30, headers=write.headers) as client:
        response = await client.post(f"/customers/{customer_id}/rename", json={"name": name})
    assert response.status_code == 200, response.text


async def log_head(pg_url: str) -> int:
    conn = await asyncpg.connect(pg_url)
    try:
        return int(await conn.fetchval("SELECT coalesce(max(position), 0) FROM events"))
    finally:
        await conn.close()


async def wait_published(pg_url: str, write: Service, timeout: float = 120) -> None:
    """Bounded polling until the relay's checkpoint is the last event in commit order."""
    conn = await asyncpg.connect(pg_url)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            last = await conn.fetchrow(
                "SELECT transaction_id::text::bigint AS tx, position FROM events"
                " ORDER BY transaction_id DESC, position DESC LIMIT 1"
            )
            done = await conn.fetchrow(
                "SELECT transaction_id::text::bigint AS tx, position FROM relay_checkpoints"
            )
            if last and done and tuple(last) == tuple(done):
                return
            await asyncio.sleep(0.2)
    finally:
        await conn.close()
    raise AssertionError(f"the relay did not publish the log in {timeout}s\n{write.tail()}")


@dataclass
class Truth:
    """The write side's streams, folded: what every projection must end up agreeing with."""

    versions: dict[str, int] = field(default_factory=dict)
    quantities: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    status: dict[str, str] = field(default_factory=dict)
    customer_of: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    emails: dict[str, str] = field(default_factory=dict)
    events: int = 0

    def orders_of(self, customer_id: str) -> list[str]:
        return [o for o, c in self.customer_of.items() if c == customer_id]


STATUS_OF = {
    "OrderPlaced": "placed",
    "OrderConfirmed": "confirmed",
    "OrderShipped": "shipped",
    "OrderCancelled": "cancelled",
}


async def write_side_truth(pg_url: str) -> Truth:
    conn = await asyncpg.connect(pg_url)
    try:
        rows = await conn.fetch(
            "SELECT stream_id::text AS id, version, event_type, data::text AS data"
            " FROM events ORDER BY stream_id, version"
        )
    finally:
        await conn.close()
    truth = Truth(events=len(rows))
    for row in rows:
        sid, kind, data = row["id"], row["event_type"], orjson.loads(row["data"])
        assert row["version"] == truth.versions.get(sid, 0) + 1, f"write-side gap in {sid}"
        truth.versions[sid] = row["version"]
        lines = truth.quantities[sid] if kind.startswith("Order") else {}
        if kind == "OrderPlaced":
            truth.customer_of[sid] = data["customer_id"]
            lines.update({x["sku"]: x["quantity"] for x in data["items"]})
        elif kind == "OrderItemAdded":
            lines[data["sku"]] = lines.get(data["sku"], 0) + data["quantity"]
        elif kind == "OrderItemRemoved":
            lines.pop(data["sku"], None)
        elif kind in ("CustomerRegistered", "CustomerRenamed"):
            truth.names[sid] = data["name"]
        if kind in STATUS_OF:
            truth.status[sid] = STATUS_OF[kind]
        if kind in ("CustomerRegistered", "CustomerEmailChanged"):
            truth.emails[sid] = data.get("email") or data["new_email"]
    return truth


# --- the read side ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One look at /projections (and at the CPU time the watched processes had used)."""

    at: float
    applied: dict[str, int]
    position: dict[str, int]
    lag: dict[str, int]
    cpu: dict[str, float | None]


async def sample(
    client: httpx.AsyncClient, service: Service, pids: dict[str, int | None]
) -> tuple[Sample, dict[str, Doc]]:
    response = await client.get(f"{service.url}/projections", timeout=10)
    response.raise_for_status()
    states = {p["name"]: p for p in response.json()["projections"]}
    seen = Sample(
        at=time.monotonic(),
        applied={n: p["events_applied"] for n, p in states.items()},
        position={n: p["position"] for n, p in states.items()},
        lag={n: p["lag_events"] for n, p in states.items()},
        cpu={
            "machine": machine_cpu_seconds(),
            **{n: cpu_seconds(pid) if pid else None for n, pid in pids.items()},
        },
    )
    return seen, states


async def wait_caught_up(
    service: Service,
    head: int,
    *,
    pids: dict[str, int | None] | None = None,
    timeout: float = CATCH_UP_TIMEOUT,
    settle: float = 2.0,
) -> list[Sample]:
    """Bounded polling until every projection is healthy, at the head, with no lag, and stays so
    for `settle` seconds (several lag measurements). Returns the samples taken."""
    samples: list[Sample] = []
    states: dict[str, Doc] = {}
    errors: list[str] = []
    since: float | None = None
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(headers=service.headers) as client:
        while time.monotonic() < deadline:
            assert service.alive(), f"{service.name} exited\n{service.tail()}"
            try:
                now, states = await sample(client, service, pids or {})
            except httpx.HTTPError as exc:  # e.g. 503 while MongoDB is still away
                errors.append(repr(exc))
                await asyncio.sleep(0.25)
                continue
            samples.append(now)
            done = set(states) == set(PROJECTIONS) and all(
                p["healthy"] and p["lag_events"] == 0 and p["position"] == head
                for p in states.values()
            )
            # lag_events is 0 until the first measurement too: insist on one having happened
            done = done and await lag_measured(client, service) >= set(PROJECTIONS)
            since = (since or now.at) if done else None
            if since is not None and now.at - since >= settle:
                return samples
            await asyncio.sleep(0.1)
    raise AssertionError(
        f"{service.name} did not catch up to position {head} in {timeout:.0f}s;"
        f" last /projections: {states}; last errors: {errors[-3:]}\n{service.tail()}"
    )


async def lag_measured(client: httpx.AsyncClient, service: Service) -> set[str]:
    """The projections whose lag the service has measured at least once (a labelled gauge
    shows in /metrics only once set)."""
    response = await client.get(f"{service.url}/metrics", timeout=10)
    found = re.findall(r'^projection_lag_events\{projection="(\w+)"\}', response.text, re.M)
    return set(found)


async def metric(service: Service, name: str) -> dict[str, float]:
    """One per-projection counter or gauge from /metrics."""
    async with httpx.AsyncClient(headers=service.headers) as client:
        text = (await client.get(f"{service.url}/metrics", timeout=10)).text
    pattern = rf'^{name}\{{projection="(\w+)"\}} (\S+)$'
    return {p: float(v) for p, v in re.findall(pattern, text, re.M)}


async def wait_applied(service: Service, projection: str, at_least: int, timeout: float) -> Sample:
    """Poll /projections until `projection` applied `at_least` events; the sample that saw it."""
    deadline = time.monotonic() + timeout
    states: dict[str, Doc] = {}
    async with httpx.AsyncClient(headers=service.headers) as client:
        while time.monotonic() < deadline:
            assert service.alive(), f"{service.name} exited\n{service.tail()}"
            now, states = await sample(client, service, {})
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


async def snapshot(mongo_url: str, database: str) -> Snapshot:
    """Every projection collection of a database, sorted by _id, without `_rev`."""
    client: AsyncMongoClient[Doc] = AsyncMongoClient(mongo_url, tz_aware=True)
    try:
        db: AsyncDatabase[Doc] = client[database]
        names = sorted(
            n for n in await db.list_collection_names() if PROJECTION_COLLECTION.fullmatch(n)
        )
        result: Snapshot = {}
        for name in names:
            docs = [d async for d in db[name].find({}).sort("_id", 1)]
            result[name] = [{k: v for k, v in d.items() if k != "_rev"} for d in docs]
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
    assert set(left) == COLLECTIONS, f"unexpected collections {sorted(left)}"
    assert set(right) == COLLECTIONS, f"unexpected collections {sorted(right)}"
    diff = differences(left, right)
    assert not diff, f"{what} differ (first differences):\n" + "\n".join(diff)


def assert_matches_write_side(docs: Snapshot, truth: Truth) -> None:
    """Versions equal the streams' (no event lost, none applied twice), and so do the sums."""
    orders = {d["_id"]: d for d in docs["order_details_v1"]}
    assert orders.keys() == truth.customer_of.keys(), "order_details lost or invented orders"
    for order_id, doc in orders.items():
        where = f"order_details[{order_id}]"
        assert doc["version"] == truth.versions[order_id], f"{where}: version {doc['version']}"
        quantities = {x["sku"]: x["quantity"] for x in doc["items"]}
        assert quantities == truth.quantities[order_id], f"{where}: items {doc['items']}"
        assert doc["status"] == truth.status[order_id], f"{where}: status {doc['status']}"
        customer = truth.customer_of[order_id]
        assert doc["customer_version"] == truth.versions[customer], f"{where}: stale customer"
        assert doc["customer_name"] == truth.names[customer], f"{where}: customer name"
        assert doc["customer_email"] == truth.emails[customer], f"{where}: customer email"
    for role in ("customers_v1_orders", "sales_v1_orders"):
        versions = {d["_id"]: d["version"] for d in docs[role]}
        assert versions == {o: truth.versions[o] for o in truth.customer_of}, f"{role} versions"
    profiles = {d["_id"]: d for d in docs["customers_v1"]}
    assert profiles.keys() == truth.names.keys(), "customers lost or invented"
    for customer_id, profile in profiles.items():
        where = f"customers[{customer_id}]"
        assert profile["version"] == truth.versions[customer_id], f"{where}: version"
        assert profile["order_count"] == len(truth.orders_of(customer_id)), f"{where}: orders"
    copies = {d["_id"]: d["version"] for d in docs["order_details_v1_customers"]}
    assert copies == {c: truth.versions[c] for c in truth.names}, "customer copies' versions"
    kept = [o for o in truth.customer_of if truth.status[o] != "cancelled"]
    units = sum(sum(truth.quantities[o].values()) for o in kept)
    assert sum(d["units"] for d in docs["sales_v1"]) == units, "sales: units"
    placed = sum(d["orders_placed"] for d in docs["sales_v1"])
    assert placed == len(truth.customer_of), "sales: orders placed"


# --- measuring -------------------------------------------------------------------------------


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


# --- the writer of test (b) ------------------------------------------------------------------


Choice = tuple[str, dict[str, Any] | None, Callable[[Doc], None]]


@dataclass
class Writer:
    """Sends valid commands to the write API one after another, as a client would."""

    url: str
    rng: random.Random
    headers: dict[str, str] = field(default_factory=dict)
    sent: int = 0
    customers: list[str] = field(default_factory=list)
    orders: dict[str, str] = field(default_factory=dict)  # order id -> status
    failures: list[str] = field(default_factory=list)

    async def run(self, total: int, pause: float) -> None:
        headers = self.headers
        async with httpx.AsyncClient(base_url=self.url, timeout=30, headers=headers) as client:
            while self.sent < total:
                path, body, remember = self.choose()
                response = await client.post(path, json=body)
                if response.status_code in (200, 201):
                    remember(response.json())
                else:
                    self.failures.append(f"POST {path}: {response.status_code} {response.text}")
                self.sent += 1
                await asyncio.sleep(pause)

    def choose(self) -> Choice:
        roll = self.rng.random()
        placed = [o for o, s in self.orders.items() if s == "placed"]
        open_ = [o for o, s in self.orders.items() if s in ("placed", "confirmed")]
        confirmed = [o for o, s in self.orders.items() if s == "confirmed"]
        if len(self.customers) < 5 or roll < 0.08:
            return self.register()
        if roll < 0.25 or not placed:
            return self.place(self.rng.choice(self.customers))
        if roll < 0.75:
            return self.add(self.rng.choice(placed))
        if roll < 0.80:
            return self.status(self.rng.choice(placed), "confirm", None, "confirmed")
        if roll < 0.84 and confirmed:
            ship = {"carrier": "UPS", "tracking_number": f"1Z{self.sent}"}
            return self.status(self.rng.choice(confirmed), "ship", ship, "shipped")
        if roll < 0.88 and open_:
            return self.status(self.rng.choice(open_), "cancel", {"reason": "no"}, "cancelled")
        customer = self.rng.choice(self.customers)
        if roll < 0.94:
            return f"/customers/{customer}/rename", {"name": f"Name {self.sent}"}, _ignore
        return f"/customers/{customer}/change-email", {"email": _email()}, _ignore

    def register(self) -> Choice:
        body = {"name": f"Customer {self.sent}", "email": _email()}
        return "/customers", body, lambda r: self.customers.append(r["id"])

    def place(self, customer_id: str) -> Choice:
        sku = self.rng.choice(list(PRICES))
        line = {"sku": sku, "name": sku, "quantity": 1, "unit_price": str(PRICES[sku])}
        body = {
            "customer_id": customer_id,
            "items": [line],
            "shipping_address": ADDRESS,
            "currency": "EUR",
        }
        return "/orders", body, lambda r: self.orders.__setitem__(r["id"], "placed")

    def add(self, order_id: str) -> Choice:
        sku = self.rng.choice(list(PRICES))
        line = {"sku": sku, "name": sku, "quantity": self.rng.randint(1, 5)}
        return f"/orders/{order_id}/items", {**line, "unit_price": str(PRICES[sku])}, _ignore

    def status(self, order_id: str, verb: str, body: Doc | None, after: str) -> Choice:
        return (
            f"/orders/{order_id}/{verb}",
            body,
            lambda _: self.orders.__setitem__(order_id, after),
        )


def _ignore(_: Doc) -> None:
    """Nothing to remember about this command's answer."""


def _email() -> str:
    return f"{uuid4().hex[:10]}@outage.test"


async def wait_sent(writer: Writer, task: asyncio.Task[None], count: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while writer.sent < count:
        if task.done():
            task.result()  # raises what stopped the writer
            raise AssertionError(f"the writer stopped after {writer.sent} commands")
        assert time.monotonic() < deadline, f"only {writer.sent} commands sent in {timeout}s"
        await asyncio.sleep(0.05)
    return writer.sent


# --- the tests -------------------------------------------------------------------------------


async def test_kill_9_mid_catch_up_then_restart_ends_identical_to_an_uninterrupted_run(
    cluster: Cluster, kafka: Backend, mongo: Backend, staff_token: str
) -> None:
    began = time.monotonic()
    await write_history(cluster.pg_url, customers=400, adds=23)
    truth = await write_side_truth(cluster.pg_url)
    written = time.monotonic()
    await cluster.start_write()
    await wait_published(cluster.pg_url, cluster.write)
    print(
        f"\n{truth.events} events written in {written - began:.1f}s,"
        f" published {time.monotonic() - written:.1f}s later"
    )
    servers = {"secantus": server_pid(mongo.url), "kafka": server_pid(kafka.url)}

    a = await cluster.start_read("a")
    seen = await wait_applied(a, "order_details", int(0.3 * truth.events), timeout=120)
    a.kill()
    print(f"read-a SIGKILLed with {seen.applied} applied, positions {seen.position}")
    share = seen.applied["order_details"] / truth.events
    assert 0.2 <= share <= 0.8, f"killed at {share:.0%} of order_details, outside 20-80%"

    # One more event, written after the kill, so the restarted service has one to apply last:
    # /projections reports positions from memory only (see the report), so without it a
    # restarted service may show a position short of the head while fully caught up.
    await rename(cluster.write, next(iter(truth.names)), "Written after the kill")
    await wait_published(cluster.pg_url, cluster.write)
    head = await log_head(cluster.pg_url)
    truth = await write_side_truth(cluster.pg_url)

    restarted = time.monotonic()
    await asyncio.to_thread(a.launch)
    samples = await wait_caught_up(a, head, pids={"read-a": a.pid, **servers})
    print(catch_up_report("read-a after kill -9", samples))
    duplicates = await metric(a, "projection_duplicate_events_total")
    print(
        f"read-a restart to caught up: {time.monotonic() - restarted:.1f}s;"
        f" re-delivered events skipped as duplicates: {duplicates}"
    )

    b = await cluster.start_read("b")
    samples = await wait_caught_up(b, head, pids={"read-b": b.pid, **servers})
    print(catch_up_report("read-b uninterrupted, from zero", samples))

    docs_a = await snapshot(mongo.url, a.env["MONGODB_DATABASE"])
    docs_b = await snapshot(mongo.url, b.env["MONGODB_DATABASE"])
    assert_identical(docs_a, docs_b, "the killed-and-restarted and the uninterrupted documents")
    assert_matches_write_side(docs_a, truth)
    print(f"test (a) took {time.monotonic() - began:.1f}s")


async def test_mongodb_stopped_mid_stream_loses_nothing_and_applies_nothing_twice(
    cluster: Cluster, mongo: Backend, staff_token: str
) -> None:
    if not mongo.can_restart:
        pytest.skip(f"the MongoDB backend ({mongo.kind}) cannot be stopped and started")
    began = time.monotonic()
    await cluster.start_write()
    r1 = await cluster.start_read("r1")
    writer = Writer(cluster.write.url, random.Random(20261122), cluster.headers)
    task = asyncio.create_task(writer.run(300, pause=0.03))
    try:
        await wait_sent(writer, task, 100, timeout=60)
        await asyncio.to_thread(mongo.stop)
        try:
            stopped_at = writer.sent
            noticed = await wait_ready_status(r1, 503, timeout=30)
            await wait_sent(writer, task, max(200, stopped_at + 50), timeout=60)
            restarted_at = writer.sent
        finally:
            await asyncio.to_thread(mongo.start)
        await asyncio.wait_for(task, timeout=120)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):  # raised above if it matters
            await task
    assert not writer.failures, "commands failed:\n" + "\n".join(writer.failures[:5])
    print(
        f"\nMongoDB stopped after command {stopped_at}, /health/ready 503 after {noticed:.1f}s,"
        f" started again after command {restarted_at}"
    )
    assert restarted_at - stopped_at >= 50, "too few commands were sent while MongoDB was down"

    head = await log_head(cluster.pg_url)
    await wait_ready_status(r1, 200, timeout=CATCH_UP_TIMEOUT)
    await wait_caught_up(r1, head)
    r2 = await cluster.start_read("r2")
    await wait_caught_up(r2, head)

    truth = await write_side_truth(cluster.pg_url)
    docs_1 = await snapshot(mongo.url, r1.env["MONGODB_DATABASE"])
    docs_2 = await snapshot(mongo.url, r2.env["MONGODB_DATABASE"])
    assert_identical(
        docs_1, docs_2, "the documents of the service that lost MongoDB and a fresh one"
    )
    assert_matches_write_side(docs_1, truth)
    print(f"{truth.events} events; test (b) took {time.monotonic() - began:.1f}s")
