"""The fulfilment process's instances over HTTP, as operators see them: who may look, what is
refused, and an instance the process left suspended, listed and shown as documented."""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from deploy.local.stack import LocalIssuer
from tests.auth import bearer, token
from tests.e2e.read_api import assert_problem
from tests.e2e.test_write_responses import Documented
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


def routes(order_id: str) -> list[str]:
    return ["/processes", "/processes?state=suspended", f"/processes/{order_id}"]


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
        for path in routes(order_id):
            missing = assert_problem(await http.get(path), 401)
            assert missing["detail"] == "a bearer token is required"
            for who, headers in not_operators.items():
                refused = await http.get(path, headers=headers)
                assert_problem(refused, 403)
                assert 'scope="ordering:operate"' in refused.headers["www-authenticate"], who
        operator = bearer(token(issuer, ("ordering:operate",)))
        assert (await http.get("/processes", headers=operator)).status_code == 200


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
