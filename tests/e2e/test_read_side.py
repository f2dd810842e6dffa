"""The read side end to end: real write and read services, the relay, Kafka and MongoDB.

Every expectation about documents and statistics comes from `tests.reference`, an independent
model folded from the write service's `/events` feed. Waits are bounded polls on observable
conditions (positions, lag, consumer-group offsets), never fixed sleeps.
"""

import asyncio
import re
import sys
import time
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from tests.kafka_utils import Record, read_records
from tests.polling import poll
from tests.reference import ReferenceModel, parse_time
from tests.services import ROOT, RunningService

PROJECTIONS = ("order_details", "customers", "sales")
PROBLEM = "application/problem+json"
ADDRESS = {"line1": "1 Main St", "city": "Paris", "postal_code": "75001", "country": "FR"}
TIME_KEYS = frozenset({"at", "changed_at", "placed_at", "updated_at", "registered_at"})
WAIT = 60.0  # bound of every poll; the dev broker alone needs ~3-6 s for a group join
STALL = 20.0  # a projection with events waiting that does not move for this long is stuck
Doc = dict[str, Any]

# name, unit price: one price per SKU (a second price for a SKU is refused)
PRODUCTS = {
    "A": ("Widget", "9.99"),
    "B": ("Gadget", "25.00"),
    "C": ("Gizmo", "4.50"),
    "D": ("Doohickey", "1.99"),
    "E": ("Thingamajig", "100.00"),
}


# -- helpers: commands ---------------------------------------------------------------------------


def item(sku: str, quantity: int, price: str | None = None) -> Doc:
    name, unit_price = PRODUCTS[sku]
    return {"sku": sku, "name": name, "quantity": quantity, "unit_price": price or unit_price}


async def command(
    client: httpx.AsyncClient, method: str, path: str, body: Doc | None = None
) -> Doc:
    """Send one command; it must succeed. Returns {"id", "version", "position"}."""
    response = await client.request(method, path, json=body)
    assert response.status_code in (200, 201), f"{method} {path}: {response.text}"
    result: Doc = response.json()
    return result


async def register(client: httpx.AsyncClient, name: str, email: str) -> str:
    return str((await command(client, "POST", "/customers", {"name": name, "email": email}))["id"])


async def place_order(client: httpx.AsyncClient, customer_id: str, *items: Doc) -> Doc:
    body = {"customer_id": customer_id, "items": list(items), "shipping_address": ADDRESS}
    return await command(client, "POST", "/orders", {**body, "currency": "EUR"})


async def place(client: httpx.AsyncClient, customer_id: str, *items: Doc) -> str:
    return str((await place_order(client, customer_id, *items))["id"])


async def add(client: httpx.AsyncClient, order_id: str, line: Doc) -> Doc:
    return await command(client, "POST", f"/orders/{order_id}/items", line)


async def remove(client: httpx.AsyncClient, order_id: str, sku: str) -> Doc:
    return await command(client, "DELETE", f"/orders/{order_id}/items/{sku}")


async def confirm(client: httpx.AsyncClient, order_id: str) -> Doc:
    return await command(client, "POST", f"/orders/{order_id}/confirm")


async def ship(client: httpx.AsyncClient, order_id: str) -> Doc:
    body = {"carrier": "UPS", "tracking_number": f"1Z{order_id[:8]}"}
    return await command(client, "POST", f"/orders/{order_id}/ship", body)


async def cancel(client: httpx.AsyncClient, order_id: str, reason: str) -> Doc:
    return await command(client, "POST", f"/orders/{order_id}/cancel", {"reason": reason})


async def rename(client: httpx.AsyncClient, customer_id: str, name: str) -> Doc:
    return await command(client, "POST", f"/customers/{customer_id}/rename", {"name": name})


async def change_email(client: httpx.AsyncClient, customer_id: str, email: str) -> Doc:
    path = f"/customers/{customer_id}/change-email"
    return await command(client, "POST", path, {"email": email})


# -- helpers: observing the read side ------------------------------------------------------------


async def feed(client: httpx.AsyncClient) -> list[Doc]:
    """The whole log, paged through `GET /events` until `has_more` is false."""
    events: list[Doc] = []
    params: dict[str, Any] = {"limit": 500}
    while True:
        page = (await client.get("/events", params=params)).raise_for_status().json()
        events.extend(page["events"])
        if not page["has_more"]:
            return events
        params["after"] = page["next"]


async def statuses(reader: httpx.AsyncClient) -> dict[str, Doc]:
    body = (await reader.get("/projections")).raise_for_status().json()
    return {p["name"]: p for p in body["projections"]}


def caught_up(status: Doc, head: int) -> bool:
    return bool(
        status["position"] >= head
        and status["lag_events"] == 0
        and status["lag_seconds"] == 0
        and status["healthy"]
    )


async def wait_caught_up(
    client: httpx.AsyncClient, reader: httpx.AsyncClient, names: tuple[str, ...] = PROJECTIONS
) -> list[Doc]:
    """Wait until `names` applied the whole log and have no lag; returns the log.

    Fails early when a projection with events waiting makes no progress at all for STALL s.
    """
    events = await feed(client)
    head = max((int(e["position"]) for e in events), default=0)
    found: dict[str, Doc] = {}
    progress: dict[str, tuple[tuple[int, int, int], float]] = {}

    async def check() -> bool:
        found.update(await statuses(reader))
        for name in names:
            assert_progressing(name, found[name], progress)
        return all(caught_up(found[name], head) for name in names)

    await poll(
        check, f"{names} to reach position {head} with no lag", seen=lambda: found, timeout=WAIT
    )
    return events


def assert_progressing(
    name: str, status: Doc, progress: dict[str, tuple[tuple[int, int, int], float]]
) -> None:
    marks = (status["position"], status["events_applied"], status["lag_events"])
    now = time.monotonic()
    if name not in progress or progress[name][0] != marks or not status["lag_events"]:
        progress[name] = (marks, now)
    assert now - progress[name][1] < STALL, f"projection {name} is stuck: {status}"


def metric(text: str, name: str, projection: str) -> float:
    """Sum of the samples of `name` labelled with `projection` in a Prometheus exposition."""
    pattern = re.compile(rf'^{name}\{{[^}}]*projection="{projection}"[^}}]*\}} (\S+)$', re.M)
    return sum(float(value) for value in pattern.findall(text))


async def get_json(reader: httpx.AsyncClient, path: str, **params: Any) -> Doc:
    response = await reader.get(path, params=params)
    assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"
    body: Doc = response.json()
    return body


def comparable(actual: Any, expected: Any) -> Any:
    """`actual` cut down to the keys `expected` has, with timestamps parsed.

    Times are compared to the millisecond: BSON dates, which MongoDB stores, carry no more.
    """
    if isinstance(expected, dict) and isinstance(actual, dict):
        return {key: _field(key, actual.get(key, "<missing>"), expected[key]) for key in expected}
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        return [comparable(a, e) for a, e in zip(actual, expected, strict=True)]
    return actual


def _field(key: str, actual: Any, expected: Any) -> Any:
    if key in TIME_KEYS and isinstance(actual, str):
        return to_millis(parse_time(actual))
    return comparable(actual, expected)


def to_millis(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(microsecond=value.microsecond // 1000 * 1000)


def expected_times(doc: Any) -> Any:
    """The reference document with its timestamps cut to the millisecond."""
    if isinstance(doc, dict):
        return {
            k: to_millis(v) if isinstance(v, datetime) else expected_times(v)
            for k, v in doc.items()
        }
    if isinstance(doc, list):
        return [expected_times(v) for v in doc]
    return doc


def assert_matches(actual: Any, expected: Any) -> None:
    """`actual` has `expected`'s fields with `expected`'s values (timestamps to the ms)."""
    want = expected_times(expected)
    assert comparable(actual, want) == want


def assert_problem(response: httpx.Response, status: int) -> Doc:
    assert response.status_code == status, f"{response.request.url}: {response.text}"
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    body: Doc = response.json()
    assert body["status"] == status and body["title"], body
    return body


# -- the scripted scenario -------------------------------------------------------------------------


async def run_script(client: httpx.AsyncClient) -> dict[str, str]:
    """Customers and orders going through every command; returns the ids by role."""
    tag = uuid.uuid4().hex[:8]
    ids = {
        "alice": await register(client, "Alice", f"alice.{tag}@example.com"),
        "bob": await register(client, "Bob", f"Bob.{tag}@Example.COM"),
        "carol": await register(client, "Carol", f"carol.{tag}@example.com"),
        "dave": await register(client, "Dave", f"dave.{tag}@example.com"),
        "erin": await register(client, "Erin", f"erin.{tag}@example.com"),  # never orders
    }
    await change_email(client, ids["carol"], f"Carol.New.{tag}@example.com")  # before her order
    ids["shipped"] = o1 = await place(client, ids["alice"], item("A", 2), item("B", 1))
    await add(client, o1, item("A", 3))  # the same SKU again: 5 in all
    await add(client, o1, item("C", 1))
    await remove(client, o1, "B")
    await confirm(client, o1)
    await ship(client, o1)
    ids["cancelled_placed"] = o2 = await place(client, ids["alice"], item("C", 2))
    await cancel(client, o2, "changed my mind")
    ids["cancelled_confirmed"] = o3 = await place(client, ids["bob"], item("B", 1), item("D", 3))
    await confirm(client, o3)
    await cancel(client, o3, "out of stock")
    ids["confirmed"] = o4 = await place(client, ids["bob"], item("D", 10))
    await add(client, o4, item("E", 1))
    await confirm(client, o4)
    ids["placed"] = o5 = await place(client, ids["carol"], item("A", 1), item("A", 1))
    await add(client, o5, item("A", 1))
    refused = await client.post(f"/orders/{o5}/items", json=item("A", 1, price="1.00"))
    assert_problem(refused, 409)
    ids["reshuffled"] = o6 = await place(client, ids["dave"], item("E", 2))
    await add(client, o6, item("B", 1))
    await remove(client, o6, "E")
    await confirm(client, o6)
    await ship(client, o6)
    await rename(client, ids["alice"], "Alice Liddell")  # after her orders were placed
    await change_email(client, ids["bob"], f"robert.{tag}@example.com")  # after his orders
    await rename(client, ids["dave"], "David")
    await rename(client, ids["dave"], "Dave Bowman")
    return ids


async def assert_orders(reader: httpx.AsyncClient, model: ReferenceModel) -> None:
    for order_id in model.order_ids():
        assert_matches(await get_json(reader, f"/orders/{order_id}"), model.order(order_id))


async def assert_customers(reader: httpx.AsyncClient, model: ReferenceModel) -> None:
    for customer_id in model.customer_ids():
        expected = model.customer(customer_id)
        doc = await get_json(reader, f"/customers/{customer_id}")
        assert_matches(doc, expected)
        found = await get_json(reader, "/customers", email=expected["email"].upper())
        assert [c["id"] for c in found["customers"]] == [customer_id]
        assert found["customers"][0] == doc
        listed = await get_json(reader, f"/customers/{customer_id}/orders", limit=100)
        assert [o["id"] for o in listed["orders"]] == model.customer_order_ids(customer_id)
        cancelled = await get_json(
            reader, f"/customers/{customer_id}/orders", status="cancelled", limit=100
        )
        want = model.customer_order_ids(customer_id, "cancelled")
        assert [o["id"] for o in cancelled["orders"]] == want


async def assert_paging(reader: httpx.AsyncClient, model: ReferenceModel, customer_id: str) -> None:
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 1}
    for _ in range(10):
        page = await get_json(reader, f"/customers/{customer_id}/orders", **params)
        seen.extend(o["id"] for o in page["orders"])
        if not page["next_cursor"]:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == model.customer_order_ids(customer_id)


async def assert_stats(reader: httpx.AsyncClient, model: ReferenceModel) -> None:
    days = model.days()
    start, end = days[0].isoformat(), max(days[-1], today()).isoformat()
    daily = await get_json(reader, "/stats/daily", **{"from": start, "to": end})
    assert_matches(daily["days"], model.daily(days[0], days[-1]))
    for by in ("revenue", "units"):
        params = {"from": start, "to": end, "by": by, "limit": 100}
        top = await get_json(reader, "/stats/top-products", **params)
        expected = model.top_products(days[0], days[-1], by=by, limit=100)
        measures = [Decimal(str(p[by])) for p in top["products"]]
        assert measures == sorted(measures, reverse=True), top  # best first; ties in any order
        assert sorted(top["products"], key=lambda p: p["sku"]) == sorted(
            expected, key=lambda p: p["sku"]
        )
        assert (top["from"], top["to"]) == (start, end)


def today() -> date:
    return datetime.now(UTC).date()


async def test_scripted_scenario_matches_the_reference_model(
    client: httpx.AsyncClient, reader: httpx.AsyncClient
) -> None:
    ids = await run_script(client)
    model = ReferenceModel(await wait_caught_up(client, reader))
    assert {ids[k] for k in ("shipped", "placed", "confirmed")} <= set(model.order_ids())
    assert model.order(ids["shipped"])["customer_name"] == "Alice Liddell"  # the model itself
    await assert_orders(reader, model)
    await assert_customers(reader, model)
    await assert_paging(reader, model, ids["bob"])
    await assert_stats(reader, model)


# -- duplicates ------------------------------------------------------------------------------------


async def snapshot(client: httpx.AsyncClient, reader: httpx.AsyncClient) -> Doc:
    """Every document and statistic the read API serves for what the log holds."""
    model = ReferenceModel(await feed(client))
    days = {"from": model.days()[0].isoformat(), "to": model.days()[-1].isoformat()}
    shot: Doc = {"orders": {}, "customers": {}, "customer_orders": {}}
    for order_id in model.order_ids():
        shot["orders"][order_id] = await get_json(reader, f"/orders/{order_id}")
    for customer_id in model.customer_ids():
        shot["customers"][customer_id] = await get_json(reader, f"/customers/{customer_id}")
        path = f"/customers/{customer_id}/orders"
        shot["customer_orders"][customer_id] = await get_json(reader, path, limit=100)
    shot["daily"] = await get_json(reader, "/stats/daily", **days)
    for by in ("revenue", "units"):
        shot[by] = await get_json(reader, "/stats/top-products", by=by, limit=100, **days)
    return shot


async def produce_copies(bootstrap: str, records: list[Record]) -> None:
    """Send each record again: same topic, partition, key, value and headers."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        sent = [
            await producer.send(
                r.topic,
                r.value,
                key=r.key.encode(),
                partition=r.partition,
                headers=[(k, v.encode()) for k, v in r.headers.items()],
            )
            for r in records
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def republish(env: dict[str, str]) -> str:
    """`python -m services.write.entrypoints.republish --from-position 0`; returns its output."""
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "services.write.entrypoints.republish", "--from-position", "0"),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), WAIT)
    assert proc.returncode == 0, out.decode()
    return out.decode()


async def wait_groups_consumed(
    bootstrap: str, groups: list[str], ends: dict[TopicPartition, int]
) -> None:
    """Wait until every group committed every partition up to its end offset."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    behind: dict[str, Any] = {}

    async def check() -> bool:
        for group in groups:
            offsets = await admin.list_consumer_group_offsets(group, partitions=list(ends))
            done = {tp: o.offset for tp, o in offsets.items() if o is not None}
            behind[group] = {str(tp): (done.get(tp), end) for tp, end in ends.items()}
            if any(done.get(tp, -1) < end for tp, end in ends.items()):
                return False
        return True

    try:
        await poll(
            check, f"{groups} to commit {len(ends)} partitions", seen=lambda: behind, timeout=WAIT
        )
    finally:
        await admin.close()


def end_offsets(records: list[Record]) -> dict[TopicPartition, int]:
    ends: dict[TopicPartition, int] = {}
    for r in records:
        tp = TopicPartition(r.topic, r.partition)
        ends[tp] = max(ends.get(tp, 0), r.offset + 1)
    return ends


async def test_duplicates_and_republish_change_nothing(
    client: httpx.AsyncClient, reader: httpx.AsyncClient, read_service: RunningService
) -> None:
    if not await feed(client):
        await run_script(client)  # this test alone: give it something to duplicate
    events = await wait_caught_up(client, reader)
    before, applied = await snapshot(client, reader), await statuses(reader)
    env = read_service.env
    bootstrap, topics = (
        env["KAFKA_BOOTSTRAP_SERVERS"],
        [env["CUSTOMERS_TOPIC"], env["ORDERS_TOPIC"]],
    )
    originals = await read_records(bootstrap, topics, expected=len(events))
    assert len(originals) == len(events)
    await produce_copies(bootstrap, originals)
    assert f"done: {len(events)} events republished" in await republish(env)
    everything = await read_records(bootstrap, topics, expected=3 * len(events))
    assert len(everything) == 3 * len(events)
    groups = [f"{env['CONSUMER_GROUP_PREFIX']}.{name}" for name in PROJECTIONS]
    await wait_groups_consumed(bootstrap, groups, end_offsets(everything))
    assert await wait_caught_up(client, reader) == events  # nothing new was written
    assert await snapshot(client, reader) == before
    after = await statuses(reader)
    for name in PROJECTIONS:  # duplicates are no-ops: they are not counted as applied
        assert after[name]["events_applied"] == applied[name]["events_applied"], name
        assert after[name]["dead_letters"] == applied[name]["dead_letters"] == 0, name


# -- read-your-writes ------------------------------------------------------------------------------

ORDER_FIELDS = ("items", "total", "item_count", "status", "status_history", "carrier")


async def assert_read_your_write(
    client: httpx.AsyncClient, reader: httpx.AsyncClient, result: Doc
) -> Doc:
    """Right after a command: the order at its version, equal to the reference at that point."""
    order_id, version = result["id"], result["version"]
    response = await reader.get(
        f"/orders/{order_id}", params={"min_version": version, "wait_ms": 5000}
    )
    assert response.status_code == 200, response.text
    doc: Doc = response.json()
    assert doc["version"] == version
    expected = ReferenceModel(await feed(client)).order(order_id)
    # the customer fields come from the other topic: read-your-writes is about this order
    assert_matches(doc, {k: v for k, v in expected.items() if not k.startswith("customer_")})
    return doc


async def test_read_your_writes_with_min_version(
    client: httpx.AsyncClient, reader: httpx.AsyncClient
) -> None:
    customer_id = await register(client, "Grace", f"grace.{uuid.uuid4().hex[:8]}@example.com")
    await wait_caught_up(client, reader)  # applied: the consumer groups have joined
    placed = await place_order(client, customer_id, item("A", 1))
    order_id = placed["id"]
    await assert_read_your_write(client, reader, placed)
    await assert_read_your_write(client, reader, await add(client, order_id, item("B", 2)))
    await assert_read_your_write(client, reader, await add(client, order_id, item("A", 2)))
    await assert_read_your_write(client, reader, await remove(client, order_id, "B"))
    await assert_read_your_write(client, reader, await confirm(client, order_id))
    last = await assert_read_your_write(client, reader, await ship(client, order_id))
    assert (last["status"], last["item_count"], last["total"]) == ("shipped", 3, "29.97")
    early = await reader.get(
        f"/orders/{order_id}", params={"min_version": last["version"] + 5, "wait_ms": 200}
    )
    assert_problem(early, 503)
    assert int(early.headers["retry-after"]) >= 1
    # the wait is the one asked for (its cap is checked in tests/integration/test_read_queries.py)
    unknown = await reader.get(f"/orders/{uuid.uuid4()}", params={"min_version": 1, "wait_ms": 200})
    assert "was seen within the wait, 200 ms" in assert_problem(unknown, 404)["detail"]


# -- lag -------------------------------------------------------------------------------------------


async def wait_for_log(log: Path, since: int, text: str) -> None:
    async def check() -> bool:
        with log.open("rb") as f:
            f.seek(since)
            return text.encode() in f.read()

    await poll(check, f"{text!r} in {log}", timeout=10)


async def lagging(reader: httpx.AsyncClient, name: str, *, above: float = 0.0) -> Doc | None:
    """`name`'s status once /projections and /metrics both show lag (seconds above `above`)."""
    status = (await statuses(reader))[name]
    if not (status["lag_events"] > 0 and status["lag_seconds"] > above):
        return None
    text = (await reader.get("/metrics")).text
    shown = [metric(text, m, name) for m in ("projection_lag_events", "projection_lag_seconds")]
    if not (shown[0] > 0 and shown[1] > above and metric(text, "kafka_consumer_lag", name) > 0):
        return None
    return status


async def twenty_commands(client: httpx.AsyncClient) -> tuple[str, str]:
    """Twenty commands: a customer, an order, 16 more items, a confirmation, a rename."""
    customer_id = await register(client, "Heidi", f"heidi.{uuid.uuid4().hex[:8]}@example.com")
    order_id = await place(client, customer_id, item("C", 1))
    for n in range(1, 17):
        line = {"sku": f"LAG-{n:02d}", "name": f"Part {n}", "quantity": n, "unit_price": "0.50"}
        await add(client, order_id, line)
    await confirm(client, order_id)
    await rename(client, customer_id, "Heidi Klum")
    return customer_id, order_id


async def paused_gauge(reader: httpx.AsyncClient, value: float) -> bool:
    """`projection_paused` of order_details is `value`, and 0 for the others."""
    text = (await reader.get("/metrics")).text
    shown = {p: metric(text, "projection_paused", p) for p in PROJECTIONS}
    return shown == {p: value if p == "order_details" else 0 for p in PROJECTIONS}


async def test_paused_projection_lags_then_catches_up(
    client: httpx.AsyncClient, reader: httpx.AsyncClient, read_service: RunningService
) -> None:
    await wait_caught_up(client, reader)
    since = read_service.log.stat().st_size
    paused = await reader.post("/projections/order_details/pause")
    try:
        assert paused.status_code == 200 and paused.json()["paused"] is True, paused.text
        # the consumer takes the flag at its next poll; its log line says when it has
        await wait_for_log(read_service.log, since, "projection order_details paused")
        customer_id, order_id = await twenty_commands(client)
        first = await poll(
            lambda: lagging(reader, "order_details"), "order_details to lag", timeout=WAIT
        )
        events = await wait_caught_up(client, reader, names=("customers", "sales"))
        later = await poll(
            lambda: lagging(reader, "order_details", above=first["lag_seconds"]),
            "order_details lag_seconds to grow while paused",
            timeout=WAIT,
        )
        head = max(int(e["position"]) for e in events)
        assert later["position"] < head and later["paused"] is True
        assert (await reader.get(f"/orders/{order_id}")).status_code == 404  # not applied yet
        waiting = await reader.get(f"/orders/{order_id}", params={"min_version": 1, "wait_ms": 100})
        detail = assert_problem(waiting, 503)["detail"]
        assert "order_details projection is paused by an operator" in detail, detail
        # paused is not stalled: every replica stays ready, and shows the pause
        assert await get_json(reader, "/health/ready") == {
            "status": "ready",
            "paused": ["order_details"],
            "access_control": "on",
        }
        await poll(lambda: paused_gauge(reader, 1), "projection_paused to be 1", timeout=WAIT)
    finally:
        resumed = await reader.post("/projections/order_details/resume")
    assert resumed.status_code == 200 and resumed.json()["paused"] is False, resumed.text
    await poll(lambda: paused_gauge(reader, 0), "projection_paused to be 0", timeout=WAIT)
    ready = {"status": "ready", "paused": [], "access_control": "on"}
    assert await get_json(reader, "/health/ready") == ready
    model = ReferenceModel(await wait_caught_up(client, reader))
    assert_matches(await get_json(reader, f"/orders/{order_id}"), model.order(order_id))
    assert_matches(await get_json(reader, f"/customers/{customer_id}"), model.customer(customer_id))
    text = (await reader.get("/metrics")).text
    assert metric(text, "projection_lag_events", "order_details") == 0
    assert metric(text, "projection_lag_seconds", "order_details") == 0


# -- injection and validation ----------------------------------------------------------------------


async def test_operator_injection_and_bad_parameters_are_422(
    client: httpx.AsyncClient, reader: httpx.AsyncClient
) -> None:
    email = f"ivan.{uuid.uuid4().hex[:8]}@example.com"
    customer_id = await register(client, "Ivan", email)
    await place(client, customer_id, item("A", 1))
    await wait_caught_up(client, reader)  # data exists that an injection could leak
    paths = [
        "/customers?email[$ne]=x",
        '/customers?email={"$ne":null}',
        '/customers?email={"$regex":".*"}',
        f'/customers/{customer_id}/orders?status={{"$gt":""}}',
        f"/customers/{customer_id}/orders?limit=100000",
        f'/customers/{customer_id}/orders?cursor={{"$gt":""}}',
        "/orders/not-a-uuid",
        '/orders/{"$ne":null}',
        "/customers/123",
        "/stats/daily?from=2026-13-01&to=2026-01-01",
        "/stats/daily?from=2026-01-02&to=2026-01-01",
        '/stats/daily?from={"$gt":""}&to=2026-01-01',
        '/stats/top-products?by={"$gt":""}',
    ]
    for path in paths:
        response = await reader.get(path)
        body = assert_problem(response, 422)
        assert not {"customers", "orders", "days", "products"} & body.keys(), path
        assert email not in response.text and "Traceback" not in response.text, path
    # an unknown parameter name is ignored, never read as an operator: the unfiltered list
    listed = await get_json(reader, f"/customers/{customer_id}/orders")
    assert await get_json(reader, f"/customers/{customer_id}/orders?status[$ne]=x") == listed
