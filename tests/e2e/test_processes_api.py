"""The fulfilment process's instances over HTTP, as operators see them: who may look, what is
refused, an instance the process left suspended, listed and shown as documented, the timeline
of a reserved order, and a suspended instance retried once by an operator."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import asyncpg
import httpx
import pytest

from deploy.local.stack import LocalIssuer
from tests.auth import bearer, token
from tests.e2e.read_api import assert_problem
from tests.e2e.test_write_responses import Documented
from tests.e2e.write_api import ADDRESS, place, register
from tests.services import RunningService

pytestmark = pytest.mark.e2e


@pytest.fixture
async def database(write_service: RunningService) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(write_service.env["DATABASE_URL"])
    try:
        yield conn
    finally:
        await conn.close()


async def suspended_instance(conn: asyncpg.Connection) -> str:
    """A row as the process leaves an instance it gave up on after three attempts."""
    order_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO fulfilment_instances (order_id, state, stage, rules, version, reservations,"
        " attempts, error) VALUES ($1, 'suspended', 'pending', 1, 3, '{\"A-1\": 2}', 3, $2)",
        order_id,
        "Refused: the stock item's append failed",
    )
    return str(order_id)


def routes(order_id: str) -> list[tuple[str, str]]:
    return [
        ("GET", "/processes"),
        ("GET", "/processes?state=suspended"),
        ("GET", f"/processes/{order_id}"),
        ("POST", f"/processes/{order_id}/retry"),
    ]


async def test_only_operators_see_the_processes(
    write_service: RunningService, issuer: LocalIssuer
) -> None:
    order_id = str(uuid.uuid4())
    not_operators = {
        "staff without ordering:operate": bearer(
            token(issuer, ("ordering:command", "ordering:query", "ordering:events"))
        ),
        "a customer": bearer(token(issuer, customer=uuid.uuid4(), subject="ada")),
    }
    async with httpx.AsyncClient(base_url=write_service.url, timeout=30) as http:
        for method, path in routes(order_id):
            missing = assert_problem(await http.request(method, path), 401)
            assert missing["detail"] == "a bearer token is required"
            for who, headers in not_operators.items():
                refused = await http.request(method, path, headers=headers)
                assert_problem(refused, 403)
                assert 'scope="ordering:operate"' in refused.headers["www-authenticate"], who
        operator = bearer(token(issuer, ("ordering:operate",)))
        assert (await http.get("/processes", headers=operator)).status_code == 200
        unknown = await http.post(f"/processes/{order_id}/retry", headers=operator)
        assert_problem(unknown, 404)


@pytest.mark.parametrize(
    "query",
    [
        "state=paused",
        "state=",
        "limit=0",
        "limit=201",
        "limit=many",
        "cursor=not-a-cursor",
        "cursor=" + "A" * 201,
        "cursor=a%2Fb",
    ],
)
async def test_a_bad_query_is_refused_with_what_is_wrong(
    client: httpx.AsyncClient, query: str
) -> None:
    body = assert_problem(await client.get(f"/processes?{query}"), 422)
    assert body["errors"][0]["loc"][:2] == ["query", query.split("=")[0]]


async def test_an_order_without_a_process_is_not_found(client: httpx.AsyncClient) -> None:
    order_id = uuid.uuid4()
    missing = assert_problem(await client.get(f"/processes/{order_id}"), 404)
    assert missing["detail"] == f"order {order_id} has no fulfilment process"
    invalid = assert_problem(await client.get("/processes/not-a-uuid"), 422)
    assert invalid["errors"][0]["loc"] == ["path", "order_id"]
    missing = assert_problem(await client.post(f"/processes/{order_id}/retry"), 404)
    assert missing["detail"] == f"order {order_id} has no fulfilment process"
    assert_problem(await client.post("/processes/not-a-uuid/retry"), 422)


async def test_a_suspended_instance_is_listed_and_shown(
    client: httpx.AsyncClient, database: asyncpg.Connection
) -> None:
    doc = Documented((await client.get("/openapi.json")).json())
    empty = doc.check(await client.get("/processes?state=suspended"), "/processes")
    assert empty == {"items": [], "next_cursor": None}

    order_id = await suspended_instance(database)

    listed = doc.check(await client.get("/processes?state=suspended&limit=1"), "/processes")
    [found] = listed["items"]
    assert (found["order_id"], found["state"], found["stage"]) == (order_id, "suspended", "pending")
    expected: dict[str, Any] = {"reservations": {"A-1": 2}, "attempts": 3, "deadline_at": None}
    assert {k: found[k] for k in expected} == expected
    assert found["error"] == "Refused: the stock item's append failed" and not found["stuck"]
    assert listed["next_cursor"] is None
    active = doc.check(await client.get("/processes?state=active"), "/processes")
    assert active["items"] == []
    everything = doc.check(await client.get("/processes"), "/processes")
    assert [p["order_id"] for p in everything["items"]] == [order_id]

    shown = doc.check(await client.get(f"/processes/{order_id}"), "/processes/{order_id}")
    assert {k: shown[k] for k in found} == found
    assert (shown["rules"], shown["version"], shown["timeline"]) == (1, 3, [])


async def test_the_instances_are_counted_for_each_scrape(
    client: httpx.AsyncClient, database: asyncpg.Connection
) -> None:
    def suspended(metrics: str) -> float:
        [line] = [
            m
            for m in metrics.splitlines()
            if m.startswith('fulfilment_instances{state="suspended"}')
        ]
        return float(line.rsplit(" ", 1)[1])

    before = suspended((await client.get("/metrics")).text)
    await suspended_instance(database)
    assert suspended((await client.get("/metrics")).text) == before + 1


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def reserved_instance(client: httpx.AsyncClient) -> dict[str, Any]:
    """An order of a tracked SKU, once the process has reserved its stock: its instance."""
    sku = f"PROC-{uuid.uuid4().hex[:8]}"
    received = await client.post(f"/stock/{sku}/receipts", json={"quantity": 5})
    assert received.status_code == 201, received.text
    customer = await register(client, "Grace Hopper", f"grace.{uuid.uuid4().hex[:8]}@example.com")
    line = {"sku": sku, "name": "Compiler manual", "quantity": 2, "unit_price": "12.00"}
    order_id = await place(client, customer, line)
    for _ in range(300):  # bounded: the process runs beside the relay, woken by the append
        response = await client.get(f"/processes/{order_id}")
        if response.status_code == 200 and response.json()["stage"] == "reserved":
            found: dict[str, Any] = response.json()
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"order {order_id} was not reserved in time: {response.text}")


async def test_a_reserved_order_shows_what_the_process_did_without_personal_data(
    client: httpx.AsyncClient,
) -> None:
    doc = Documented((await client.get("/openapi.json")).json())
    found = await reserved_instance(client)
    shown = doc.check(await client.get(f"/processes/{found['order_id']}"), "/processes/{order_id}")
    [sku] = shown["reservations"]
    assert (shown["state"], shown["reservations"][sku], shown["attempts"]) == ("active", 2, 0)
    assert shown["deadline_at"] is not None and not shown["stuck"]
    timeline = shown["timeline"]
    assert [e["position"] for e in timeline] == sorted(e["position"] for e in timeline)
    kinds = {(e["stream"], e["type"]) for e in timeline}
    assert {("order", "OrderPlaced"), ("order", "OrderStockReserved")} <= kinds
    assert {("process", "FulfilmentStarted"), ("process", "LineReserved")} <= kinds
    assert ("stock", "StockReserved") in kinds
    actors = {e["type"]: e["actor"] for e in timeline}
    assert actors["OrderPlaced"] == "test" and actors["LineReserved"] == "process:fulfilment"
    text = str([e["data"] for e in timeline])
    for personal in ("Grace", "grace.", "Compiler manual", ADDRESS["line1"], ADDRESS["city"]):
        assert personal not in text
    conflict = assert_problem(await client.post(f"/processes/{found['order_id']}/retry"), 409)
    assert conflict["detail"].endswith("is active, not suspended")


async def test_a_suspended_instance_is_retried_by_an_operator_once(
    client: httpx.AsyncClient,
    database: asyncpg.Connection,
    write_service: RunningService,
    issuer: LocalIssuer,
) -> None:
    doc = Documented((await client.get("/openapi.json")).json())
    order_id = (await reserved_instance(client))["order_id"]
    # as the process leaves an instance it gave up on
    await database.execute(
        "UPDATE fulfilment_instances SET state = 'suspended', attempts = 3, error = $2"
        " WHERE order_id = $1",
        uuid.UUID(order_id),
        "Refused: the stock item's append failed",
    )
    listed = (await client.get("/processes?state=suspended")).json()["items"]
    assert order_id in {p["order_id"] for p in listed}

    operator = bearer(token(issuer, ("ordering:operate",), subject="ops-ada"))
    async with httpx.AsyncClient(base_url=write_service.url, headers=operator) as http:
        retried = await http.post(f"/processes/{order_id}/retry")
        body = doc.check(retried, "/processes/{order_id}/retry")
        again = assert_problem(await http.post(f"/processes/{order_id}/retry"), 409)

    assert retried.status_code == 202
    assert (body["order_id"], body["state"], body["attempts"], body["error"]) == (
        order_id,
        "active",
        0,
        None,
    )
    assert "not suspended" in again["detail"]
    timeline = (await client.get(f"/processes/{order_id}")).json()["timeline"]
    [retry] = [e for e in timeline if e["type"] == "FulfilmentRetried"]
    assert (retry["stream"], retry["actor"], retry["data"]["by"]) == (
        "process",
        "ops-ada",
        "ops-ada",
    )
    for _ in range(300):  # bounded: the replica leading the process is woken and runs it
        now = (await client.get(f"/processes/{order_id}")).json()
        if now["progressed_at"] != body["progressed_at"]:
            break
        await asyncio.sleep(0.1)
    assert (now["state"], now["stage"], now["attempts"]) == ("active", "reserved", 0), now
    assert moment(now["progressed_at"]) > moment(body["progressed_at"])
