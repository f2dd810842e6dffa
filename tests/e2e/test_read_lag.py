"""The read side behind the write side, end to end: a read that waits for its own write, and a
projection paused by an operator that lags, then catches up. Real write and read services, the
relay, Kafka and MongoDB; waits are bounded polls on observable conditions, never fixed sleeps.
"""

import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.read_api import (
    WAIT,
    assert_matches,
    assert_problem,
    caught_up_log,
    disclosed,
    feed,
    get_json,
)
from tests.e2e.write_api import (
    add,
    confirm,
    item,
    place,
    place_order,
    register,
    remove,
    rename,
    ship,
)
from tests.polling import poll
from tests.read_side import PROJECTIONS, metric, statuses
from tests.reference import ReferenceModel
from tests.services import RunningService

Doc = dict[str, Any]

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
    expected = ReferenceModel(await disclosed(client, await feed(client))).order(order_id)
    # the customer fields come from the other topic: read-your-writes is about this order
    assert_matches(doc, {k: v for k, v in expected.items() if not k.startswith("customer_")})
    return doc


async def test_read_your_writes_with_min_version(
    client: httpx.AsyncClient, reader: httpx.AsyncClient
) -> None:
    customer_id = await register(client, "Grace", f"grace.{uuid.uuid4().hex[:8]}@example.com")
    await caught_up_log(client, reader)  # applied: the consumer groups have joined
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
    # the wait is the one asked for (its cap: tests/integration/read_queries/test_orders.py)
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
    await caught_up_log(client, reader)
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
        events = await caught_up_log(client, reader, names=("customers", "sales"))
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
    model = ReferenceModel(await caught_up_log(client, reader))
    assert_matches(await get_json(reader, f"/orders/{order_id}"), model.order(order_id))
    assert_matches(await get_json(reader, f"/customers/{customer_id}"), model.customer(customer_id))
    text = (await reader.get("/metrics")).text
    assert metric(text, "projection_lag_events", "order_details") == 0
    assert metric(text, "projection_lag_seconds", "order_details") == 0
