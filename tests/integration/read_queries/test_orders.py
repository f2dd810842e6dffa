"""An order by id, and the wait for one to reach a version (`min_version`)."""

import asyncio
from uuid import uuid4

import httpx
import pytest

from deploy.local.stack import LocalIssuer
from services.read.adapters.collection_names import Collections
from shared.contracts.envelope import MAX_VERSION
from shared.plumbing.http import PROBLEM_JSON
from tests.integration.read_queries.documents import T0, order_doc
from tests.integration.read_queries.live_side import FakeLiveSide, seed, serving

pytestmark = pytest.mark.integration


async def test_order_by_id_hides_internals(api: httpx.AsyncClient, read: FakeLiveSide) -> None:
    doc = order_doc(str(uuid4()), T0, version=2)
    await seed(read, "order_details", doc)
    response = await api.get(f"/orders/{doc['_id']}")
    assert response.status_code == 200
    assert response.headers["etag"].startswith('"2-')  # the version, then a digest
    body = response.json()
    assert body["id"] == doc["_id"] and body["total"] == "2.50" and body["version"] == 2
    assert not [k for k in body if k.startswith("_")]
    assert body["placed_at"] == "2030-01-01T12:00:00.000Z"
    assert body["status_history"][0]["at"] == body["placed_at"]
    missing = await api.get(f"/orders/{uuid4()}")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM_JSON


async def test_min_version_already_reached(api: httpx.AsyncClient, read: FakeLiveSide) -> None:
    doc = order_doc(str(uuid4()), T0, version=3)
    await seed(read, "order_details", doc)
    response = await api.get(f"/orders/{doc['_id']}", params={"min_version": 2})
    assert response.status_code == 200
    assert response.json()["version"] == 3


async def test_min_version_reached_while_waiting(
    api: httpx.AsyncClient, read: FakeLiveSide
) -> None:
    doc = order_doc(str(uuid4()), T0)
    await seed(read, "order_details", doc)
    read.waiting.clear()
    params = {"min_version": 2, "wait_ms": 1000}
    request = asyncio.create_task(api.get(f"/orders/{doc['_id']}", params=params))
    await asyncio.wait_for(read.waiting.wait(), timeout=5)
    coll = read.db[Collections("order_details", 1).main]
    await coll.update_one({"_id": doc["_id"]}, {"$set": {"version": 2, "status": "confirmed"}})
    response = await asyncio.wait_for(request, timeout=5)
    assert response.status_code == 200
    assert response.json()["status"] == "confirmed"
    assert response.headers["etag"].startswith('"2-')


@pytest.mark.parametrize("wait_ms", [100, 600_000])
async def test_min_version_never_reached(
    api: httpx.AsyncClient, read: FakeLiveSide, wait_ms: int
) -> None:
    doc = order_doc(str(uuid4()), T0)
    await seed(read, "order_details", doc)
    read.waits.clear()
    params = {"min_version": 5, "wait_ms": wait_ms}
    response = await api.get(f"/orders/{doc['_id']}", params=params)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.headers["content-type"] == PROBLEM_JSON
    # the waits asked for, not the clock: they add up to the smaller of wait_ms and the cap
    # (a timer may fire a clock tick early, hence the millisecond)
    assert read.waits and sum(read.waits) <= min(wait_ms, read.max_wait_ms) / 1000 + 0.001


@pytest.mark.parametrize("min_version", [MAX_VERSION + 1, 2**63, 10**30])
async def test_min_version_past_any_version_is_422_at_once(
    read: FakeLiveSide, issuer: LocalIssuer, min_version: int
) -> None:
    # A service that would wait a minute, asked to wait far longer than this test waits for
    # its answer: a 422 at all shows that nothing waited, and no wait was asked for.
    patient = FakeLiveSide(read.db, max_wait_ms=60_000)
    doc = order_doc(str(uuid4()), T0)
    await seed(read, "order_details", doc)
    async with serving(patient, issuer) as api:
        params = {"min_version": min_version, "wait_ms": 600_000}
        response = await asyncio.wait_for(api.get(f"/orders/{doc['_id']}", params=params), 10)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert [e["loc"] for e in response.json()["errors"]] == [["query", "min_version"]]
    assert patient.waits == []


async def test_min_version_of_an_order_never_seen_is_404(api: httpx.AsyncClient) -> None:
    unknown = uuid4()
    response = await api.get(f"/orders/{unknown}", params={"min_version": 1, "wait_ms": 100})
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    detail = f"no order {unknown} exists (none was seen within the wait, 100 ms)"
    assert response.json()["detail"] == detail


async def test_min_version_on_a_paused_projection_says_it_is_paused(
    api: httpx.AsyncClient, read: FakeLiveSide
) -> None:
    doc = order_doc(str(uuid4()), T0)
    await seed(read, "order_details", doc)
    placed = str(uuid4())  # in the event store, not yet projected
    read.orders[placed] = str(uuid4())
    read.pause = "paused by an operator"
    try:
        for order_id in (doc["_id"], placed):  # behind, and not there at all
            params = {"min_version": 2, "wait_ms": 100}
            response = await api.get(f"/orders/{order_id}", params=params)
            assert response.status_code == 503, response.text
            assert response.headers["retry-after"] == "1"
            detail = response.json()["detail"]
            assert "order_details projection is paused by an operator" in detail, detail
        unknown = await api.get(f"/orders/{uuid4()}", params={"min_version": 1, "wait_ms": 100})
        assert unknown.status_code == 404, unknown.text  # paused or not, the store has none
    finally:
        read.pause = None
