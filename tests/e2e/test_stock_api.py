"""Stock over the write API, end to end: receipts and adjustments of a real service over real
PostgreSQL, and orders of tracked SKUs waiting for their reservation before they confirm."""

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from deploy.local.stack import LocalIssuer
from services.write.adapters.postgres import PostgresEventStore, create_pool
from services.write.domain.stock import StockItem
from shared.contracts.envelope import EventMetadata
from shared.contracts.events import stock_stream_id
from tests.auth import bearer, token
from tests.e2e.servers import serve, write_env
from tests.e2e.test_write_api import ADDRESS, assert_problem, register
from tests.services import RunningService
from tests.stores import event_store


def new_sku() -> str:
    return f"S-{uuid.uuid4().hex[:10]}"


async def receive(
    client: httpx.AsyncClient, sku: str, quantity: Any, **headers: str
) -> httpx.Response:
    return await client.post(f"/stock/{sku}/receipts", json={"quantity": quantity}, headers=headers)


async def adjust(client: httpx.AsyncClient, sku: str, quantity: Any) -> httpx.Response:
    body = {"quantity": quantity, "reason": "stock count"}
    return await client.post(f"/stock/{sku}/adjustments", json=body)


async def place(client: httpx.AsyncClient, *skus: str) -> str:
    body = {
        "customer_id": await register(client),
        "items": [{"sku": s, "name": "Widget", "quantity": 2, "unit_price": "3.00"} for s in skus],
        "shipping_address": ADDRESS,
        "currency": "EUR",
    }
    response = await client.post("/orders", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def events(client: httpx.AsyncClient, stream_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/streams/{stream_id}/events")
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["events"]
    return found


@pytest.fixture(scope="module")
def write_service(
    postgres: Any, kafka: Any, issuer: LocalIssuer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningService]:
    """The write API without its fulfilment process: what HTTP alone answers, before any
    reservation could be made (the process's own tests are in tests/e2e/fulfilment/)."""
    env = {**write_env(postgres, kafka, issuer), "FULFILMENT_ENABLED": "false"}
    yield from serve("write", env, tmp_path_factory)


@pytest.fixture
async def store(write_service: RunningService) -> AsyncIterator[PostgresEventStore]:
    """The service's own event store, to append what the fulfilment process would."""
    pool = await create_pool(write_service.env["DATABASE_URL"], min_size=1, max_size=2)
    store = event_store(pool, write_service.env)
    yield store
    await store.close()
    await pool.close()


async def test_the_first_receipt_creates_the_stock_item(client: httpx.AsyncClient) -> None:
    sku = new_sku()
    first = await receive(client, sku, 5)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["id"] == str(stock_stream_id(sku)) and body["version"] == 1
    assert body["position"] >= 1
    assert first.headers["location"] == f"/stock/{sku}"
    assert first.headers["etag"] == '"1"'
    second = await receive(client, sku, 3)
    assert second.status_code == 200, second.text
    assert second.json()["version"] == 2 and "location" not in second.headers
    assert second.headers["etag"] == '"2"'
    stored = await events(client, body["id"])
    assert [e["event_type"] for e in stored] == ["StockReceived", "StockReceived"]
    assert stored[-1]["stream_type"] == "stock"
    assert stored[-1]["data"] == {"sku": sku, "on_hand": 8, "reserved": 0, "quantity": 3}


async def test_adjustments_stay_within_what_is_on_hand(client: httpx.AsyncClient) -> None:
    sku = new_sku()
    await receive(client, sku, 5)
    assert_problem(await adjust(client, sku, -6), 409)
    adjusted = await adjust(client, sku, -2)
    assert adjusted.status_code == 200, adjusted.text
    assert adjusted.json()["version"] == 2 and adjusted.headers["etag"] == '"2"'
    data = (await events(client, str(stock_stream_id(sku))))[-1]["data"]
    assert data == {
        "sku": sku,
        "on_hand": 3,
        "reserved": 0,
        "quantity": -2,
        "reason": "stock count",
    }


async def test_an_adjustment_never_goes_below_what_is_reserved(
    client: httpx.AsyncClient, store: PostgresEventStore
) -> None:
    sku = new_sku()
    await receive(client, sku, 5)
    loaded = await store.load(stock_stream_id(sku))
    item = StockItem.rehydrate(stock_stream_id(sku), loaded.events)
    assert item.reserve(uuid.uuid4(), 4)  # as the fulfilment process reserves
    await store.append(
        stream_type="stock",
        stream_id=item.id,
        expected_version=1,
        events=item.pending,
        metadata=EventMetadata(),
    )
    refused = assert_problem(await adjust(client, sku, -2), 409)
    assert "reserved" in refused["detail"]
    assert (await adjust(client, sku, -1)).status_code == 200
    assert len(await events(client, str(item.id))) == 3


async def test_an_unknown_sku_cannot_be_adjusted(client: httpx.AsyncClient) -> None:
    sku = new_sku()
    assert_problem(await adjust(client, sku, 1), 404)
    assert (await client.get(f"/streams/{stock_stream_id(sku)}/events")).status_code == 404


async def test_bad_quantities_and_skus_are_refused(client: httpx.AsyncClient) -> None:
    sku = new_sku()
    for quantity in [0, -1, "2", True, 1.5, None, 1_000_001]:
        assert_problem(await receive(client, sku, quantity), 422)
    await receive(client, sku, 5)
    for quantity in [0, "-1", 1.5, None, -1_000_001]:
        assert_problem(await adjust(client, sku, quantity), 422)
    no_reason = await client.post(f"/stock/{sku}/adjustments", json={"quantity": 1})
    assert_problem(no_reason, 422)
    for bad in ["-starts-with-a-dash", "x" * 65, "a%20b", "a%00b"]:
        assert_problem(await receive(client, bad, 1), 422)
    assert len(await events(client, str(stock_stream_id(sku)))) == 1


async def test_stock_is_for_staff_only(
    client: httpx.AsyncClient, write_service: RunningService, issuer: LocalIssuer
) -> None:
    sku = new_sku()
    customer = bearer(token(issuer, customer=await register(client), subject="ada"))
    async with httpx.AsyncClient(base_url=write_service.url, headers=customer) as as_ada:
        assert_problem(await receive(as_ada, sku, 1), 403)
        await receive(client, sku, 1)
        assert_problem(await adjust(as_ada, sku, 1), 403)
    assert len(await events(client, str(stock_stream_id(sku)))) == 1


async def test_a_receipt_replays_its_idempotency_key(client: httpx.AsyncClient) -> None:
    sku = new_sku()
    key = {"Idempotency-Key": f"receipt-{sku}"}
    first = await receive(client, sku, 5, **key)
    again = await receive(client, sku, 5, **key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == f"/stock/{sku}"
    assert_problem(await receive(client, sku, 6, **key), 422)
    assert len(await events(client, str(stock_stream_id(sku)))) == 1


async def test_a_receipt_at_a_stale_version_fails_fast(client: httpx.AsyncClient) -> None:
    sku = new_sku()
    await receive(client, sku, 5)
    assert_problem(await receive(client, sku, 1, **{"If-Match": '"3"'}), 412)
    assert (await receive(client, sku, 1, **{"If-Match": '"1"'})).status_code == 200


async def test_an_order_with_a_tracked_line_waits_for_its_stock(
    client: httpx.AsyncClient,
) -> None:
    tracked, untracked = new_sku(), new_sku()
    await receive(client, tracked, 10)
    order_id = await place(client, untracked, tracked)
    confirm = await client.post(f"/orders/{order_id}/confirm")
    problem = assert_problem(confirm, 409)
    assert problem["type"].endswith("stock-pending")
    assert confirm.headers["retry-after"] == "1"
    [placed] = await events(client, order_id)  # still placed: nothing was appended
    assert placed["data"]["tracked"] == [tracked]
    added = await client.post(
        f"/orders/{order_id}/items",
        json={"sku": untracked, "name": "Widget", "quantity": 1, "unit_price": "3.00"},
    )
    assert added.status_code == 200, added.text
    assert (await events(client, order_id))[-1]["data"]["tracked"] is False


async def test_an_order_of_untracked_skus_confirms_as_before(client: httpx.AsyncClient) -> None:
    order_id = await place(client, new_sku(), new_sku())
    confirmed = await client.post(f"/orders/{order_id}/confirm")
    assert confirmed.status_code == 200, confirmed.text
    [placed, _] = await events(client, order_id)
    assert placed["data"]["tracked"] == []
