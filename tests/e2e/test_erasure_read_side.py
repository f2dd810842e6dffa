"""A second write replica over the same database, whose READ_SERVICE_URL names a stand-in of the
read service's GET /erasures/{customer_id}: GET /erasures asks it with the caller's own token,
and says it is unavailable (not an error) when it does not answer; erasures on both replicas at
once answer one receipt."""

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from deploy.local.stack import LocalIssuer, free_port
from tests.auth import token
from tests.background import in_background
from tests.e2e.servers import serve
from tests.e2e.test_erasure_api import erase, register
from tests.polling import poll
from tests.services import RunningService

Doc = dict[str, Any]


@pytest.fixture(scope="module")
def read_side_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def asking_write_service(
    write_service: RunningService, read_side_port: int, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningService]:
    """A second replica over the same database, whose READ_SERVICE_URL is a stand-in for the
    read service (listening only while a test runs it)."""
    env = {
        **write_service.env,
        "WRITE_PORT": str(free_port()),
        "READ_SERVICE_URL": f"http://127.0.0.1:{read_side_port}",
        "RELAY_ENABLED": "false",
        "FULFILMENT_ENABLED": "false",
    }
    yield from serve("write", env, tmp_path_factory)


class StandIn:
    """The read service's GET /erasures/{customer_id}, answering every projection caught up
    and keeping the Authorization each request carried."""

    def __init__(self) -> None:
        self.authorizations: list[str | None] = []

    async def erasure(self, request: Request) -> JSONResponse:
        self.authorizations.append(request.headers.get("authorization"))
        states = {"customers": {"caught_up": True}, "order_details": {"caught_up": False}}
        return JSONResponse({"customer_id": request.path_params["id"], "projections": states})


@pytest.fixture
async def stand_in(read_side_port: int) -> AsyncIterator[StandIn]:
    stand_in = StandIn()
    app = Starlette(routes=[Route("/erasures/{id}", stand_in.erasure)])
    config = uvicorn.Config(app, host="127.0.0.1", port=read_side_port, log_level="warning")
    server = uvicorn.Server(config)

    async def started() -> bool:
        return server.started

    async with in_background(server.serve()) as serving:
        await poll(started, "the stand-in read service", timeout=10)
        yield stand_in
        server.should_exit = True
        await asyncio.wait_for(serving, 10)


async def erasure_state(write: RunningService, customer_id: str, authorization: str) -> Doc:
    url = f"{write.url}/erasures/{customer_id}"
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.get(url, headers={"Authorization": authorization})
    assert response.status_code == 200, response.text
    state: Doc = response.json()
    return state


async def test_an_unreachable_read_side_is_said_to_be_unavailable(
    client: httpx.AsyncClient, asking_write_service: RunningService, issuer: LocalIssuer
) -> None:
    customer_id, _ = await register(client)
    receipt = (await erase(client, customer_id)).json()
    operator = f"Bearer {token(issuer, ('ordering:operate',), subject='operator')}"
    state = await erasure_state(asking_write_service, customer_id, operator)
    assert (state["projections"], state["read_side"]) == (None, "unavailable")
    assert state["event_id"] == receipt["event_id"]


async def test_the_read_side_is_asked_with_the_callers_token(
    client: httpx.AsyncClient,
    asking_write_service: RunningService,
    issuer: LocalIssuer,
    stand_in: StandIn,
) -> None:
    customer_id, _ = await register(client)
    assert (await erase(client, customer_id)).status_code == 200
    operator = f"Bearer {token(issuer, ('ordering:erase',), subject='dpo')}"
    state = await erasure_state(asking_write_service, customer_id, operator)
    assert state["read_side"] == "available"
    assert state["projections"] == {
        "customers": {"caught_up": True},
        "order_details": {"caught_up": False},
    }
    assert stand_in.authorizations == [operator]


async def test_erasures_on_two_replicas_at_once_answer_one_receipt(
    client: httpx.AsyncClient, asking_write_service: RunningService
) -> None:
    customer_id, _ = await register(client)
    headers = {"Authorization": client.headers["authorization"]}
    async with httpx.AsyncClient(base_url=asking_write_service.url, headers=headers) as other:
        answers = await asyncio.gather(
            *(erase(http, customer_id) for http in (client, other, client, other))
        )
    assert {a.status_code for a in answers} == {200}
    assert len({a.text for a in answers}) == 1
