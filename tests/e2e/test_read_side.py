"""The read side end to end: real write and read services, the relay, Kafka and MongoDB.

Every expectation about documents and statistics comes from `tests.reference`, an independent
model folded from the write service's `/events` feed. Waits are bounded polls on observable
conditions (positions, lag, consumer-group offsets), never fixed sleeps.
"""

import asyncio
import sys
import uuid
from decimal import Decimal
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from tests.e2e.read_api import (
    WAIT,
    assert_matches,
    assert_problem,
    caught_up_log,
    every_query,
    feed,
    get_json,
    today,
)
from tests.e2e.write_api import item, place, register, run_script
from tests.kafka_utils import Record, read_records
from tests.polling import poll
from tests.read_side import PROJECTIONS, served, statuses
from tests.reference import ReferenceModel
from tests.services import ROOT, RunningService


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


async def test_scripted_scenario_matches_the_reference_model(
    client: httpx.AsyncClient, reader: httpx.AsyncClient
) -> None:
    ids = await run_script(client)
    model = ReferenceModel(await caught_up_log(client, reader))
    assert {ids[k] for k in ("shipped", "placed", "confirmed")} <= set(model.order_ids())
    assert model.order(ids["shipped"])["customer_name"] == "Alice Liddell"  # the model itself
    await assert_orders(reader, model)
    await assert_customers(reader, model)
    await assert_paging(reader, model, ids["bob"])
    await assert_stats(reader, model)


# -- duplicates ------------------------------------------------------------------------------------


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
    events = await caught_up_log(client, reader)
    queries = every_query(ReferenceModel(events))
    before, applied = await served(reader, queries), await statuses(reader)
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
    assert await caught_up_log(client, reader) == events  # nothing new was written
    assert await served(reader, queries) == before
    after = await statuses(reader)
    for name in PROJECTIONS:  # duplicates are no-ops: they are not counted as applied
        assert after[name]["events_applied"] == applied[name]["events_applied"], name
        assert after[name]["dead_letters"] == applied[name]["dead_letters"] == 0, name


# -- injection and validation ----------------------------------------------------------------------


async def test_operator_injection_and_bad_parameters_are_422(
    client: httpx.AsyncClient, reader: httpx.AsyncClient
) -> None:
    email = f"ivan.{uuid.uuid4().hex[:8]}@example.com"
    customer_id = await register(client, "Ivan", email)
    await place(client, customer_id, item("A", 1))
    await caught_up_log(client, reader)  # data exists that an injection could leak
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
