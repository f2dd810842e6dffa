"""`make rebuild-projections` end to end: real write and read services, Kafka, MongoDB.

The rebuild command runs as the operator runs it (a subprocess with the read service's
environment). What users must not notice: while it runs, every query keeps answering with the
document it answered before (or a newer one). What operators rely on: a rebuild killed with
SIGKILL changes nothing that is served and a re-run recovers; a second rebuild of the same
projection is refused. And the result is document-for-document what a read service that never
rebuilt holds (the reference, a second read service over the same topics, minus `_rev`).

Waits are bounded polls on observable conditions, never fixed sleeps.
"""

import asyncio
import random
import re
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from deploy.local.stack import free_port
from tests.auth import bearer, client_token
from tests.openapi import assert_documented
from tests.polling import poll
from tests.services import ROOT, RunningService, run_service

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

Doc = dict[str, Any]
PROJECTIONS = ("order_details", "customers", "sales")
WAIT = 120.0  # bound of every poll: two cores shared with other runs, and a slow MongoDB stand-in
ADDRESS = {"line1": "1 Main St", "city": "Paris", "postal_code": "75001", "country": "FR"}
PRODUCTS = {"A": ("Widget", "9.99"), "B": ("Gadget", "25.00"), "C": ("Gizmo", "4.50")}
SUMMARY = re.compile(
    r"^(?P<name>\w+): rebuilt version (?P<version>\d+): (?P<events>[\d,]+) events replayed,"
    r" (?P<documents>[\d,]+) documents, (?P<seconds>[\d.]+) s, (?P<rate>[\d,]+) events/s,"
    r" peak RSS (?P<rss>\d+) MB$",
    re.M,
)
PHASES = (
    r"[\d.]+ s: replay (?P<replay>[\d.]+) s, writing [\d.]+ s,"
    r" MongoDB indexes (?P<indexing>[\d.]+) s, pause [\d.]+ s$"
)
VERSIONED = re.compile(r"^(?P<projection>order_details|customers|sales)_v(?P<version>\d+)(_\w+)?$")
SLOW_PAGE = "5"  # events per page for the rebuilds that must still be running when we act


# --- polling ---------------------------------------------------------------------------------


# --- the write side: a workload that knows what exists ------------------------------------------


@dataclass
class Workload:
    """Sends commands to the write API and remembers the customers and orders they made."""

    http: httpx.AsyncClient
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    customers: list[str] = field(default_factory=list)
    orders: dict[str, str] = field(default_factory=dict)  # order id -> status
    owner: dict[str, str] = field(default_factory=dict)  # order id -> customer id
    busy: set[str] = field(default_factory=set)  # orders with a command in flight
    sent: int = 0
    errors: list[str] = field(default_factory=list)

    async def send(self, method: str, path: str, body: Doc | None = None) -> Doc | None:
        response = await self.http.request(method, path, json=body)
        self.sent += 1
        if response.status_code not in (200, 201):
            self.errors.append(f"{method} {path}: {response.status_code} {response.text[:200]}")
            return None
        result: Doc = response.json()
        return result

    async def register(self) -> None:
        n = len(self.customers)
        body = {"name": f"Customer {n}", "email": f"c{n}.{uuid.uuid4().hex[:8]}@rebuild.test"}
        if created := await self.send("POST", "/customers", body):
            self.customers.append(created["id"])

    async def place(self) -> None:
        customer = self.rng.choice(self.customers)
        lines = [line(sku, self.rng.randint(1, 3)) for sku in self.rng.sample(list(PRODUCTS), 2)]
        body = {
            "customer_id": customer,
            "items": lines,
            "shipping_address": ADDRESS,
            "currency": "EUR",
        }
        if created := await self.send("POST", "/orders", body):
            self.orders[created["id"]] = "placed"
            self.owner[created["id"]] = customer

    async def step(self) -> None:
        """One random command that the aggregates accept in their current state.

        An order with a command in flight is left alone, so concurrent steps never race.
        """
        free = {o: s for o, s in self.orders.items() if o not in self.busy}
        placed = [o for o, s in free.items() if s == "placed"]
        confirmed = [o for o, s in free.items() if s == "confirmed"]
        roll = self.rng.random()
        if roll < 0.1 or not self.customers:
            await self.register()
        elif roll < 0.35 or not placed:
            await self.place()
        elif roll < 0.65:
            sku = self.rng.choice(list(PRODUCTS))
            await self.on_order(self.rng.choice(placed), "items", line(sku, 1), None)
        elif roll < 0.8:
            await self.on_order(self.rng.choice(placed), "confirm", None, "confirmed")
        elif roll < 0.92:
            order = self.rng.choice(placed + confirmed)
            await self.on_order(order, "cancel", {"reason": "changed my mind"}, "cancelled")
        else:
            customer = self.rng.choice(self.customers)
            body = {"name": f"Renamed {self.sent}"}
            await self.send("POST", f"/customers/{customer}/rename", body)

    async def on_order(self, order: str, action: str, body: Doc | None, after: str | None) -> None:
        self.busy.add(order)
        try:
            if await self.send("POST", f"/orders/{order}/{action}", body) and after:
                self.orders[order] = after
        finally:
            self.busy.discard(order)

    async def run_until(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.step()

    def ordering_customers(self) -> set[str]:
        return set(self.owner.values())


def line(sku: str, quantity: int) -> Doc:
    name, price = PRODUCTS[sku]  # one price per SKU: the write side refuses a second one
    return {"sku": sku, "name": name, "quantity": quantity, "unit_price": price}


# --- the read side: queries that must keep answering ---------------------------------------------


@dataclass
class Queries:
    """Queries known documents in a loop; records every answer that is not a document."""

    http: httpx.AsyncClient
    orders: list[str]
    customers: list[str]
    ordering: set[str]  # customers known to have orders
    answered: int = 0
    failures: list[str] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)

    async def run_until(self, stop: asyncio.Event) -> None:
        n = 0
        while not stop.is_set():
            order = self.orders[n % len(self.orders)]
            customer = self.customers[n % len(self.customers)]
            await self.check(f"/orders/{order}", order)
            await self.check(f"/customers/{customer}", customer)
            await self.check(f"/customers/{customer}/orders", customer)
            n += 1

    async def check(self, path: str, ident: str) -> None:
        try:
            response = await self.http.get(path)
        except httpx.HTTPError as exc:
            self.failures.append(f"GET {path}: {exc!r}")
            return
        self.answered += 1
        if response.status_code != 200:
            self.failures.append(f"GET {path}: {response.status_code} {response.text[:200]}")
            return
        body = response.json()
        if path.endswith("/orders"):
            if ident in self.ordering and not body.get("orders"):
                self.failures.append(f"GET {path}: no orders for a customer who has some")
            return
        if body.get("id") != ident:
            self.failures.append(f"GET {path}: not the document asked for: {body}")
            return
        seen = self.versions.get(path, 0)
        if body["version"] < seen:  # a query must never go back in time
            self.failures.append(f"GET {path}: version {body['version']} after {seen}")
        self.versions[path] = max(seen, body["version"])


# --- the rebuild command -------------------------------------------------------------------------


@dataclass(frozen=True)
class Finished:
    code: int
    stdout: str
    stderr: str
    seconds: float

    def summaries(self) -> dict[str, re.Match[str]]:
        return {m["name"]: m for m in SUMMARY.finditer(self.stdout)}

    def __str__(self) -> str:
        return f"exit {self.code} after {self.seconds:.1f}s\n{self.stdout}\n{self.stderr}"


@dataclass
class Rebuild:
    """One run of `python -m services.read.cli rebuild` as a subprocess."""

    proc: asyncio.subprocess.Process
    output: asyncio.Task[tuple[bytes, bytes]]
    started: float

    @classmethod
    async def start(cls, env: dict[str, str], *args: str) -> "Rebuild":
        proc = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "services.read.cli", "rebuild", *args),
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(proc, asyncio.ensure_future(proc.communicate()), time.monotonic())

    @property
    def running(self) -> bool:
        return self.proc.returncode is None

    def kill(self) -> None:
        """SIGKILL: no `finally` runs, the lock is left held by a dead process."""
        self.proc.kill()

    async def finish(self, timeout: float = 300) -> Finished:
        try:
            out, err = await asyncio.wait_for(asyncio.shield(self.output), timeout)
        except TimeoutError as exc:
            self.proc.kill()
            out, err = await self.output
            raise AssertionError(
                f"the rebuild did not end in {timeout:.0f}s:\n{out!r}\n{err!r}"
            ) from exc
        assert self.proc.returncode is not None
        elapsed = time.monotonic() - self.started
        return Finished(self.proc.returncode, out.decode(), err.decode(), elapsed)


async def rebuild(env: dict[str, str], *args: str) -> Finished:
    return await (await Rebuild.start(env, *args)).finish()


def print_summaries(done: Finished) -> None:
    for match in done.summaries().values():
        print(match.group(0))


# --- state and documents in MongoDB --------------------------------------------------------------


class ReadDatabase:
    """A read service's MongoDB database, seen directly."""

    def __init__(self, client: AsyncMongoClient[Doc], name: str) -> None:
        self.db: AsyncDatabase[Doc] = client[name]

    async def state(self, projection: str) -> Doc:
        doc = await self.db["projection_state"].find_one({"_id": projection})
        return doc or {}

    async def active(self, projection: str) -> int:
        return int((await self.state(projection)).get("active_version", 1))

    async def versions(self, projection: str) -> dict[str, int]:
        """Every collection of the projection, whatever its version: name -> version."""
        return {
            name: int(m["version"])
            for name in await self.db.list_collection_names()
            if (m := VERSIONED.match(name)) and m["projection"] == projection
        }

    async def documents(self, projection: str) -> dict[str, list[Doc]]:
        """The active version's collections by role ("main" or the aux name), minus `_rev`."""
        main = f"{projection}_v{await self.active(projection)}"
        found: dict[str, list[Doc]] = {}
        for name in await self.db.list_collection_names():
            if name == main or name.startswith(f"{main}_"):
                docs = [d async for d in self.db[name].find({}).sort("_id", 1)]
                role = name.removeprefix(main).lstrip("_") or "main"
                found[role] = [{k: v for k, v in d.items() if k != "_rev"} for d in docs]
        return {role: docs for role, docs in found.items() if docs}

    async def dead_letters(self) -> int:
        return await self.db["dead_letters"].count_documents({})


def differences(left: dict[str, list[Doc]], right: dict[str, list[Doc]]) -> list[str]:
    found = []
    for role in sorted(left.keys() | right.keys()):
        a = {d["_id"]: d for d in left.get(role, [])}
        b = {d["_id"]: d for d in right.get(role, [])}
        if a.keys() != b.keys():
            found.append(f"{role}: only rebuilt {sorted(a.keys() - b.keys())[:5]},")
            found.append(f"{role}: only reference {sorted(b.keys() - a.keys())[:5]}")
        found += [
            f"{role}[{k}]:\n  {a[k]}\n  {b[k]}" for k in sorted(a.keys() & b.keys()) if a[k] != b[k]
        ]
    return found[:8]


@pytest.fixture
async def mongo_client(mongo: Any) -> AsyncIterator[AsyncMongoClient[Doc]]:
    client: AsyncMongoClient[Doc] = AsyncMongoClient(mongo.url, tz_aware=True)
    yield client
    await client.close()


@pytest.fixture
def rebuilt(mongo_client: AsyncMongoClient[Doc], read_service: RunningService) -> ReadDatabase:
    return ReadDatabase(mongo_client, read_service.env["MONGODB_DATABASE"])


# --- the module's services: history, and a reference read service that never rebuilds ----------


@pytest.fixture(scope="module")
def reference(
    read_service: RunningService, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningService]:
    """A second read service over the same topics, with a database and groups of its own."""
    suffix = uuid.uuid4().hex[:8]
    port = free_port()
    env = {
        **read_service.env,
        "MONGODB_DATABASE": f"reference_{suffix}",
        "CONSUMER_GROUP_PREFIX": f"reference-{suffix}",
        "READ_PORT": str(port),
    }
    log = tmp_path_factory.mktemp("reference") / "reference-read-service.log"
    with run_service("read", env, port, log, timeout=90) as service:
        yield service


@pytest.fixture(scope="module")
async def workload(write_service: RunningService, staff_token: str) -> AsyncIterator[Workload]:
    """A few hundred events of history: customers, orders, additions, confirmations, cancels."""
    headers = bearer(staff_token)
    async with httpx.AsyncClient(base_url=write_service.url, timeout=30, headers=headers) as http:
        made = Workload(http)
        for _ in range(12):
            await made.register()
        for _ in range(30):
            await made.place()
        gate = asyncio.Semaphore(8)

        async def steps(n: int) -> None:
            async with gate:
                for _ in range(n):
                    await made.step()

        await asyncio.gather(*(steps(10) for _ in range(20)))
        assert not made.errors, made.errors
        yield made


def operator(service: RunningService) -> httpx.AsyncClient:
    """A client of `service` with the read service's own token, as the operator commands use."""
    headers = bearer(client_token(service.env))
    return httpx.AsyncClient(base_url=service.url, timeout=30, headers=headers)


async def head(write_service: RunningService) -> int:
    async with operator(write_service) as http:
        return int((await http.get("/events/head")).raise_for_status().json()["position"])


async def statuses(read_service: RunningService) -> dict[str, Doc]:
    async with operator(read_service) as http:
        body = (await http.get("/projections")).raise_for_status().json()
    return {p["name"]: p for p in body["projections"]}


async def wait_caught_up(write_service: RunningService, *readers: RunningService) -> None:
    """Every projection of every reader applied the log up to its head and has no lag."""
    position = await head(write_service)

    async def check() -> bool:
        for reader in readers:
            found = await statuses(reader)
            if not all(
                p["position"] >= position and p["lag_events"] == 0 and p["healthy"]
                for p in found.values()
            ):
                return False
        return True

    await poll(check, f"the read services to apply the log up to position {position}", timeout=WAIT)


async def wait_live(read_service: RunningService, versions: dict[str, int]) -> None:
    """/projections shows each projection live on the version given (its state is cached 0.25 s)."""
    found: dict[str, Doc] = {}

    async def check() -> bool:
        nonlocal found
        found = await statuses(read_service)
        return all(
            found[p]["state"] == "live" and found[p]["active_version"] == v
            for p, v in versions.items()
        )

    try:
        await poll(check, f"/projections to show {versions} live", timeout=10)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last: {[found[p] for p in versions]}") from None


async def assert_like_reference(
    rebuilt: ReadDatabase, reference: ReadDatabase, projections: tuple[str, ...]
) -> None:
    assert await rebuilt.dead_letters() == 0
    assert await reference.dead_letters() == 0
    for projection in projections:
        mine, theirs = await rebuilt.documents(projection), await reference.documents(projection)
        assert mine.get("main"), f"{projection}: nothing rebuilt"
        diff = differences(mine, theirs)
        assert not diff, f"{projection} differs from the reference:\n" + "\n".join(diff)


async def assert_only_version(rebuilt: ReadDatabase, projection: str, version: int) -> None:
    """No collection of any other version of the projection is left."""
    found = await rebuilt.versions(projection)
    stray = sorted(name for name, v in found.items() if v != version)
    assert not stray, f"{projection}: collections of other versions remain: {stray}"
    assert f"{projection}_v{version}" in found


async def served(reader: httpx.AsyncClient, workload: Workload) -> dict[str, Doc]:
    """What the read API answers for every known order and customer."""
    paths = [f"/orders/{o}" for o in workload.orders] + [
        f"/customers/{c}{tail}" for c in workload.customers for tail in ("", "/orders")
    ]
    answers = {}
    for path in paths:
        response = await reader.get(path)
        assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"
        answers[path] = response.json()
    return answers


# --- the tests -------------------------------------------------------------------------------


async def test_rebuilding_every_projection_under_load_serves_without_a_gap(
    write_service: RunningService,
    staff_token: str,
    read_service: RunningService,
    reference: RunningService,
    workload: Workload,
    reader: httpx.AsyncClient,
    rebuilt: ReadDatabase,
    mongo_client: AsyncMongoClient[Doc],
) -> None:
    await wait_caught_up(write_service, read_service)
    before = {p: await rebuilt.active(p) for p in PROJECTIONS}
    queries = Queries(
        reader, list(workload.orders), list(workload.customers), workload.ordering_customers()
    )
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(workload.run_until(stop)),
        asyncio.create_task(queries.run_until(stop)),
        asyncio.create_task(queries.run_until(stop)),
    ]
    sent = workload.sent
    try:
        done = await rebuild(read_service.env)
        answered, sent = queries.answered, workload.sent - sent
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    print(f"\nduring the rebuild: {sent} commands, {answered} queries\n{done.stdout}")
    assert done.code == 0, done
    summaries = done.summaries()
    assert sorted(summaries) == sorted(PROJECTIONS), done
    for projection, summary in summaries.items():
        assert int(summary["version"]) == before[projection] + 1, summary.group(0)
        assert int(summary["events"].replace(",", "")) > 0, summary.group(0)
        # where the time went (a small projection's indexes take less than the 0.1 s shown, so
        # only the presence of each figure is checked), and the long steps with no pages to
        # count shown as they begin
        phases = re.search(rf"^{projection}: .*\n  serving it after {PHASES}", done.stdout, re.M)
        assert phases is not None, done.stdout
        for step in ("writing documents", "building indexes"):
            shown = re.search(rf"^{projection}: .* \[{step}\]$", done.stdout, re.M)
            assert shown is not None, f"{projection} never showed [{step}]:\n{done.stdout}"
    assert not workload.errors, workload.errors
    assert sent > 0 and answered > 0, "the load did not run during the rebuild"
    assert not queries.failures, f"{len(queries.failures)} failed queries:\n" + "\n".join(
        queries.failures[:20]
    )

    await wait_caught_up(write_service, read_service, reference)
    await wait_live(read_service, {p: v + 1 for p, v in before.items()})
    status = await reader.get("/projections")  # each with its finished rebuild, as documented
    assert all(p["rebuild"]["phase"] == "done" for p in status.json()["projections"]), status.text
    assert_documented((await reader.get("/openapi.json")).json(), "/projections", "get", status)
    for projection in PROJECTIONS:
        await assert_only_version(rebuilt, projection, before[projection] + 1)
    theirs = ReadDatabase(mongo_client, reference.env["MONGODB_DATABASE"])
    await assert_like_reference(rebuilt, theirs, PROJECTIONS)


async def wait_rebuilding(rebuilt: ReadDatabase, projection: str, run: Rebuild) -> Doc:
    """The `rebuild` entry of the state, once `run` holds the lock and has replayed events."""

    async def check() -> Doc | None:
        assert run.running, await run.finish()
        entry: Doc = (await rebuilt.state(projection)).get("rebuild") or {}
        mine = str(entry.get("owner", "")).split(":")[1:2] == [str(run.proc.pid)]
        return entry if mine and entry.get("running") and entry.get("events") else None

    return await poll(check, f"the rebuild of {projection} to be under way", timeout=WAIT)


async def test_a_rebuild_killed_half_way_serves_nothing_half_built_and_a_rerun_recovers(
    write_service: RunningService,
    staff_token: str,
    read_service: RunningService,
    reference: RunningService,
    workload: Workload,
    reader: httpx.AsyncClient,
    rebuilt: ReadDatabase,
    mongo_client: AsyncMongoClient[Doc],
) -> None:
    projection = "order_details"
    await wait_caught_up(write_service, read_service)
    active = await rebuilt.active(projection)
    before = await served(reader, workload)
    run = await Rebuild.start(
        read_service.env, "--projection", projection, "--page-size", SLOW_PAGE
    )
    await wait_rebuilding(rebuilt, projection, run)

    async def half_way() -> Doc | None:
        assert run.running, await run.finish()
        entry: Doc = (await rebuilt.state(projection))["rebuild"]
        return entry if 0.4 <= entry.get("ratio", 0) <= 0.9 else None

    entry = await poll(
        half_way, f"the rebuild of {projection} to be between 40% and 90%", timeout=WAIT
    )
    run.kill()
    killed = await run.finish()
    print(f"\nkilled at {entry['ratio']:.0%} ({entry['events']} events, {entry['phase']})")
    assert killed.code == -9, killed
    assert entry["phase"] == "replaying", entry

    # Nothing served changed: the same version, the same answers.
    assert await rebuilt.active(projection) == active
    assert (await statuses(read_service))[projection]["active_version"] == active
    assert await served(reader, workload) == before
    shown = (await statuses(read_service))[projection]
    print(f"/projections after the kill: state {shown['state']}, rebuild {shown['rebuild']}")
    half_built = await rebuilt.versions(projection)
    assert f"{projection}_v{active + 1}" in half_built, "the kill left nothing to clean up"
    # Anything else the dead run might have left of its version must go too.
    leftover = rebuilt.db[f"{projection}_v{active + 1}_leftover"]
    await leftover.insert_one({"_id": "left by the killed rebuild"})

    # A re-run takes the dead holder's lock at once, builds the next version and cleans up.
    done = await rebuild(read_service.env, "--projection", projection)
    print_summaries(done)
    assert done.code == 0, done
    assert int(done.summaries()[projection]["version"]) == active + 1, done
    assert await rebuilt.active(projection) == active + 1
    await assert_only_version(rebuilt, projection, active + 1)
    assert f"{projection}_v{active + 1}_leftover" not in await rebuilt.versions(projection)
    await wait_live(read_service, {projection: active + 1})

    await wait_caught_up(write_service, read_service, reference)
    assert await served(reader, workload) == before  # no command ran meanwhile
    theirs = ReadDatabase(mongo_client, reference.env["MONGODB_DATABASE"])
    await assert_like_reference(rebuilt, theirs, (projection,))


async def test_a_second_rebuild_of_the_same_projection_is_refused_and_changes_nothing(
    write_service: RunningService,
    staff_token: str,
    read_service: RunningService,
    reference: RunningService,
    reader: httpx.AsyncClient,
    rebuilt: ReadDatabase,
    mongo_client: AsyncMongoClient[Doc],
) -> None:
    projection = "customers"
    await wait_caught_up(write_service, read_service)
    active = await rebuilt.active(projection)
    first = await Rebuild.start(
        read_service.env, "--projection", projection, "--page-size", SLOW_PAGE
    )
    held = await wait_rebuilding(rebuilt, projection, first)
    # Hold the first run still (alive, within its lease) while the second one tries, however
    # fast rebuilds get: it must still be half way when we look.
    first.proc.send_signal(signal.SIGSTOP)
    try:
        # Operators see it: the state, and the progress metric.
        async def shown_rebuilding() -> bool:
            return bool((await statuses(read_service))[projection]["state"] == "rebuilding")

        await poll(shown_rebuilding, "/projections to show the rebuild", timeout=WAIT)

        async def progress_exported() -> bool:
            text = (await reader.get("/metrics")).raise_for_status().text
            pattern = rf'^projection_rebuild_progress_ratio\{{projection="{projection}"\}} (\S+)$'
            sample = re.search(pattern, text, re.M)
            return sample is not None and float(sample[1]) > 0

        await poll(
            progress_exported, "projection_rebuild_progress_ratio to show the rebuild", timeout=WAIT
        )

        second = await rebuild(read_service.env, "--projection", projection)
        assert first.running, "the first rebuild ended before the second one tried"
        assert second.code == 2, second
        assert "refused" in second.stderr, second
        assert not second.summaries(), second
        now = await rebuilt.state(projection)
        assert now["rebuild"]["owner"] == held["owner"], "the refused run took the lock"
        assert now["rebuild"]["started_at"] == held["started_at"]
        assert now["active_version"] == active
        assert f"{projection}_v{active + 1}" in await rebuilt.versions(projection)
    finally:
        first.proc.send_signal(signal.SIGCONT)

    done = await first.finish()
    print_summaries(done)
    assert done.code == 0, done
    assert int(done.summaries()[projection]["version"]) == active + 1, done
    assert await rebuilt.active(projection) == active + 1
    await assert_only_version(rebuilt, projection, active + 1)
    await wait_caught_up(write_service, read_service, reference)
    theirs = ReadDatabase(mongo_client, reference.env["MONGODB_DATABASE"])
    await assert_like_reference(rebuilt, theirs, (projection,))
