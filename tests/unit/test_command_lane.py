"""The command lane: a command route's request served without the router, its errors answered
by the app's handlers; what another route could take goes through the router as before."""

from typing import Any
from uuid import UUID

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.routing import Mount

from services.write.entrypoints.command_lane import CommandLane, lanes
from services.write.entrypoints.command_route import CommandRoute
from shared.plumbing.access import Authenticator

ORDER = "0b6f1a36-52a7-4c39-9a9c-35a8d7e1e0f1"


class Refused(Exception):
    """A business rule, as the app's handlers know it."""


class StockShort(Refused):
    """A kind of refusal no handler names."""


def _paths(app: FastAPI) -> dict[tuple[str, str], list[str]]:
    return {key: [r.path for r in routes] for key, routes in lanes(app.router.routes).items()}


async def _endpoint(order_id: UUID, request: Request) -> Response:
    return JSONResponse({"order": str(order_id)})


def test_a_command_route_is_taken_unless_an_earlier_route_could_match_its_requests() -> None:
    app = FastAPI()
    add = app.router.add_api_route

    add("/orders/{order_id}/confirm", _endpoint, methods=["POST"])  # FastAPI's own route
    add("/orders/{order_id}/items", _endpoint, methods=["GET"])
    for path in (
        "/orders/{order_id}/confirm",
        "/orders/{order_id}/items",
        "/orders/{order_id}/ship",
    ):
        add(path, _endpoint, methods=["POST"], route_class_override=CommandRoute)
    add(
        "/orders/{order_id}/cancel",
        _endpoint,
        methods=["DELETE"],
        route_class_override=CommandRoute,
    )
    app.router.routes.append(Mount("/stock", app=FastAPI()))
    add(
        "/stock/{order_id}/receipts", _endpoint, methods=["POST"], route_class_override=CommandRoute
    )
    assert _paths(app) == {
        ("POST", "orders"): ["/orders/{order_id}/items", "/orders/{order_id}/ship"],
        ("DELETE", "orders"): ["/orders/{order_id}/cancel"],
    }


def _app(seen: list[Any]) -> FastAPI:
    app = FastAPI()
    app.state.auth = Authenticator(None)

    async def fail(order_id: UUID, request: Request) -> Response:
        # set by Starlette's exception middleware, which the lane leaves out
        seen.append("starlette.exception_handlers" in request.scope)
        raise {"1": StockShort("short"), "2": HTTPException(418, "teapot")}[str(order_id)[-1]]

    async def refused(request: Request, exc: Exception) -> Response:
        return JSONResponse({"refused": str(exc)}, status_code=409)

    async def teapot(request: Request, exc: Exception) -> Response:
        return JSONResponse({"status": 418, "path": request.url.path}, status_code=418)

    app.router.add_api_route(
        "/orders/{order_id}", fail, methods=["POST"], route_class_override=CommandRoute
    )
    app.add_exception_handler(Refused, refused)
    app.add_exception_handler(418, teapot)
    app.add_middleware(CommandLane, owner=app)
    return app


async def test_what_a_command_raises_is_answered_by_the_handler_starlette_would_pick() -> None:
    seen: list[Any] = []
    transport = httpx.ASGITransport(app=_app(seen))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        short = await client.post(f"/orders/{ORDER[:-1]}1")
        teapot = await client.post(f"/orders/{ORDER[:-1]}2")
        other = await client.get(f"/orders/{ORDER[:-1]}1")
    assert (short.status_code, short.json()) == (409, {"refused": "short"})
    assert (teapot.status_code, teapot.json()["path"]) == (418, f"/orders/{ORDER[:-1]}2")
    assert (other.status_code, other.headers["allow"]) == (405, "POST")  # from the router
    assert seen == [False, False]
