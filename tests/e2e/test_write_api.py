"""The write API end to end: a real service process over real PostgreSQL and Kafka."""

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx

from deploy.local.stack import free_port
from tests.auth import bearer
from tests.kafka_utils import read_records
from tests.polling import poll
from tests.services import RunningService, run_service

ADDRESS = {"line1": "1 Main St", "city": "Paris", "postal_code": "75001", "country": "FR"}
PROBLEM = "application/problem+json"


async def register(client: httpx.AsyncClient) -> str:
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    response = await client.post("/customers", json={"name": "Ada", "email": email})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def place(client: httpx.AsyncClient, customer_id: str, **headers: str) -> httpx.Response:
    body = {
        "customer_id": customer_id,
        "items": [{"sku": "SKU-1", "name": "Widget", "quantity": 1, "unit_price": "10.00"}],
        "shipping_address": ADDRESS,
        "currency": "EUR",
    }
    return await client.post("/orders", json=body, headers=headers)


async def new_order(client: httpx.AsyncClient) -> str:
    response = await place(client, await register(client))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    assert "Traceback" not in response.text
    return body


async def test_order_lifecycle_and_shipped_order_cannot_be_cancelled(
    client: httpx.AsyncClient,
) -> None:
    customer_id = await register(client)
    placed = await place(client, customer_id)
    assert placed.status_code == 201
    order_id = placed.json()["id"]
    assert placed.headers["location"] == f"/orders/{order_id}"
    assert placed.headers["etag"] == '"1"'
    confirmed = await client.post(f"/orders/{order_id}/confirm")
    assert confirmed.json()["version"] == 2
    shipped = await client.post(
        f"/orders/{order_id}/ship", json={"carrier": "UPS", "tracking_number": "1Z999"}
    )
    assert shipped.status_code == 200 and shipped.headers["etag"] == '"3"'
    cancel = await client.post(f"/orders/{order_id}/cancel", json={"reason": "too late"})
    assert "shipped" in assert_problem(cancel, 409)["detail"]
    history = await client.get(f"/streams/{order_id}/events")
    types = [e["event_type"] for e in history.json()["events"]]
    assert types == ["OrderPlaced", "OrderConfirmed", "OrderShipped"]


async def test_fifty_concurrent_item_additions_leave_no_gap(client: httpx.AsyncClient) -> None:
    order_id = await new_order(client)
    item = {"sku": "SKU-2", "name": "Gadget", "quantity": 1, "unit_price": "1.50"}
    responses = await asyncio.gather(
        *(client.post(f"/orders/{order_id}/items", json=item) for _ in range(50))
    )
    assert [r.status_code for r in responses] == [200] * 50
    assert sorted(r.json()["version"] for r in responses) == list(range(2, 52))
    history = (await client.get(f"/streams/{order_id}/events")).json()["events"]
    assert [e["version"] for e in history] == list(range(1, 52))


async def test_stale_if_match_is_refused_and_appends_nothing(client: httpx.AsyncClient) -> None:
    order_id = await new_order(client)
    item = {"sku": "SKU-3", "name": "Gizmo", "quantity": 2, "unit_price": "3.00"}
    ok = await client.post(f"/orders/{order_id}/items", json=item, headers={"If-Match": '"1"'})
    assert ok.status_code == 200 and ok.headers["etag"] == '"2"'
    stale = await client.post(f"/orders/{order_id}/items", json=item, headers={"If-Match": '"1"'})
    assert_problem(stale, 412)
    history = (await client.get(f"/streams/{order_id}/events")).json()["events"]
    assert len(history) == 2


async def test_idempotency_key_replays_the_first_response(client: httpx.AsyncClient) -> None:
    customer_id = await register(client)
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = await place(client, customer_id, **key)
    second = await place(client, customer_id, **key)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert "idempotent-replayed" not in first.headers
    assert second.headers["idempotent-replayed"] == "true"
    events = (await client.get(f"/streams/{first.json()['id']}/events")).json()["events"]
    assert len(events) == 1
    other = await client.post(
        "/orders",
        headers=key,
        json={
            "customer_id": customer_id,
            "items": [{"sku": "X", "name": "Other", "quantity": 5, "unit_price": "1.00"}],
            "shipping_address": ADDRESS,
            "currency": "EUR",
        },
    )
    assert_problem(other, 422)
    too_long = await place(client, customer_id, **{"Idempotency-Key": "k" * 201})
    assert_problem(too_long, 422)
    assert too_long.json()["errors"][0]["loc"] == ["header", "idempotency-key"]


async def test_bad_input_gets_a_clear_4xx(client: httpx.AsyncClient) -> None:
    order_id = await new_order(client)
    json_headers = {"content-type": "application/json"}
    cases: list[tuple[str, str, dict[str, Any], int]] = [
        ("POST", "/customers", {"content": b'{"name": "A", "email":'}, 422),
        ("POST", "/customers", {"json": {"name": 5, "email": ["x"]}}, 422),
        ("POST", "/customers", {"json": {"name": "A"}}, 422),
        ("POST", "/customers", {"json": {"name": "A", "email": "not-an-email"}}, 422),
        (
            "POST",
            f"/orders/{order_id}/items",
            {"json": {"sku": "A", "name": "A", "quantity": -1, "unit_price": "1.00"}},
            422,
        ),
        (
            "POST",
            f"/orders/{order_id}/items",
            {"json": {"sku": "A", "name": "A", "quantity": 1, "unit_price": "ten"}},
            422,
        ),
        (
            "POST",
            f"/orders/{order_id}/items",
            {"json": {"sku": "A", "name": "A", "quantity": 1, "unit_price": "1.005"}},
            422,
        ),
        (
            "POST",
            f"/orders/{order_id}/items",
            {"json": {"sku": "A", "name": "A", "quantity": "many", "unit_price": "1.00"}},
            422,
        ),
        ("POST", f"/orders/{uuid.uuid4()}/confirm", {}, 404),
        ("POST", f"/customers/{uuid.uuid4()}/rename", {"json": {"name": "B"}}, 404),
        ("DELETE", f"/orders/{order_id}/items/NOPE", {}, 404),
        ("POST", "/orders/not-a-uuid/confirm", {}, 422),
        ("GET", "/streams/also-not-a-uuid/events", {}, 422),
        ("GET", "/events?after=garbage", {}, 422),
        ("GET", "/events?limit=0", {}, 422),
        ("POST", f"/orders/{order_id}/confirm", {"headers": {"If-Match": "yesterday"}}, 422),
        ("POST", "/customers", {"content": b"x" * 2_000_000}, 413),
        ("GET", "/no/such/route", {}, 404),
    ]
    for method, path, kwargs, status in cases:
        kwargs.setdefault("headers", {}).update(json_headers)
        response = await client.request(method, path, **kwargs)
        assert_problem(response, status)
    unknown_customer = await place(client, str(uuid.uuid4()))
    assert "does not exist" in assert_problem(unknown_customer, 422)["detail"]


async def test_feed_and_kafka_agree(
    client: httpx.AsyncClient, write_service: RunningService
) -> None:
    for _ in range(3):
        await new_order(client)
    events: list[dict[str, Any]] = []
    page = (await client.get("/events", params={"limit": 7})).json()
    events.extend(page["events"])
    while page["has_more"]:
        page = (await client.get("/events", params={"after": page["next"], "limit": 7})).json()
        events.extend(page["events"])
    head = (await client.get("/events/head")).json()
    assert head["position"] == max(e["position"] for e in events)
    env = write_service.env
    topics = [env["CUSTOMERS_TOPIC"], env["ORDERS_TOPIC"]]
    records = await read_records(env["KAFKA_BOOTSTRAP_SERVERS"], topics, expected=len(events))
    assert sorted(r.headers["ce_id"] for r in records) == sorted(e["event_id"] for e in events)
    for record in records:
        event = next(e for e in events if e["event_id"] == record.headers["ce_id"])
        expected_topic = topics[0] if event["stream_type"] == "customer" else topics[1]
        assert (record.topic, record.key) == (expected_topic, event["stream_id"])
        # the actor's subject travels as a CloudEvents extension; the rest stays in the store
        assert record.headers["ce_actor"] == event["metadata"]["actor"]["subject"] == "test"


async def test_operations_endpoints(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health/live")).status_code == 200
    assert (await client.get("/health/ready")).json()["status"] == "ready"
    assert (await client.get("/docs")).status_code == 200
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert "/orders/{order_id}/cancel" in paths and "/events" in paths
    headers = {p["name"] for p in paths["/orders/{order_id}/items"]["post"]["parameters"]}
    assert {"If-Match", "Idempotency-Key", "traceparent", "order_id"} <= headers
    metrics = (await client.get("/metrics")).text
    for name in (
        "eventstore_head_position",
        "outbox_published_position",
        "outbox_lag_events",
        "outbox_publish_latency_seconds_bucket",
        "outbox_publish_errors_total",
    ):
        assert name in metrics


def test_metrics_show_the_highest_position_committed_by_any_process(
    write_service: RunningService, staff_token: str, tmp_path: Path
) -> None:
    # a second replica of the same store, without a relay: it sees the first one's appends
    port = free_port()
    env = {**write_service.env, "WRITE_PORT": str(port), "RELAY_ENABLED": "false"}
    with run_service("write", env, port, tmp_path / "w.log") as replica:
        headers = bearer(staff_token)
        for _ in range(2):
            email = f"{uuid.uuid4().hex[:8]}@example.com"
            body = {"name": "Ada", "email": email}
            created = httpx.post(f"{write_service.url}/customers", json=body, headers=headers)
            position = created.json()["position"]
            metrics = httpx.get(f"{replica.url}/metrics").text
            assert f"eventstore_head_position {float(position)}" in metrics.splitlines()
            head = httpx.get(f"{replica.url}/events/head", headers=headers).json()
            assert head["position"] == position


async def test_readiness_says_this_process_leads_the_relay(client: httpx.AsyncClient) -> None:
    # the fixture's service is the only replica: it takes the relay's lock, and says so, as does
    # its gauge
    async def leading() -> bool:
        ready = (await client.get("/health/ready")).json()
        return bool(ready["relay"] == "running" and ready["relay_leader"] is True)

    await poll(leading, "/health/ready to report the relay's leadership", timeout=30)
    assert "outbox_relay_leader 1.0" in (await client.get("/metrics")).text
