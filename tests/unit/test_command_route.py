"""A command route serves its endpoint without FastAPI's per-request resolution: it must take
and refuse the same input as a plain FastAPI route with the same endpoint, in the same words."""

from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from uuid import UUID

import httpx
import pytest
from fastapi import Depends, FastAPI, Path, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute

from services.write.domain.commands import AddOrderItem, CancelOrder
from services.write.entrypoints.command_lane import CommandLane
from services.write.entrypoints.command_route import CommandRoute, JsonRequest
from shared.contracts.events import SKU_PATTERN
from shared.plumbing.access import Authenticator

Sku = Annotated[str, Path(max_length=64, pattern=SKU_PATTERN)]


async def add(order_id: UUID, body: AddOrderItem, request: Request) -> Response:
    return JSONResponse({"order": str(order_id), "body": body.model_dump(mode="json")})


async def cancel(order_id: UUID, request: Request, body: CancelOrder | None = None) -> Response:
    return JSONResponse({"order": str(order_id), "body": body and body.model_dump()})


async def remove(order_id: UUID, sku: Sku, request: Request) -> Response:
    return JSONResponse({"order": str(order_id), "sku": sku})


class FastAPIRoute(APIRoute):
    """FastAPI's own handling, with the body parsed by orjson as command bodies are."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            return await handler(JsonRequest(request.scope, request.receive))

        return handle


def _app(lean: bool, *, lane: bool = False) -> FastAPI:
    """The three endpoints, served by CommandRoute or by FastAPI (`lane`: CommandRoute, from
    the CommandLane)."""
    app = FastAPI()
    if lane:
        app.add_middleware(CommandLane, owner=app)
    app.state.auth = Authenticator(None)  # every request may do everything
    route: type[APIRoute] = CommandRoute if lean else FastAPIRoute
    endpoints: list[tuple[str, Callable[..., Any], str]] = [
        ("/orders/{order_id}/items", add, "POST"),
        ("/orders/{order_id}/cancel", cancel, "POST"),
        ("/orders/{order_id}/items/{sku}", remove, "DELETE"),
    ]
    for path, endpoint, method in endpoints:
        app.router.add_api_route(path, endpoint, methods=[method], route_class_override=route)
    return app


ORDER = "0b6f1a36-52a7-4c39-9a9c-35a8d7e1e0f1"
ITEM = {"sku": "A-1", "name": "Thing", "quantity": 2, "unit_price": "1.50"}
JSON = {"content-type": "application/json"}
CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", f"/orders/{ORDER}/items", {"json": ITEM}),
    ("POST", f"/orders/{ORDER}/items", {"json": {**ITEM, "quantity": "2"}}),
    ("POST", f"/orders/{ORDER}/items", {"json": {**ITEM, "unit_price": 1.5, "extra": 1}}),
    ("POST", f"/orders/{ORDER}/items", {"content": b'{"sku": ', "headers": JSON}),
    ("POST", f"/orders/{ORDER}/items", {"content": b"", "headers": JSON}),
    ("POST", f"/orders/{ORDER}/items", {"content": b"null", "headers": JSON}),
    ("POST", f"/orders/{ORDER}/items", {"content": b'{"sku": "A"}'}),
    ("POST", f"/orders/{ORDER}/items", {"content": b"{}", "headers": {"content-type": "text/x"}}),
    ("POST", "/orders/not-a-uuid/items", {"json": {**ITEM, "quantity": 0}}),
    ("POST", "/orders/not-a-uuid/items", {"content": b"{", "headers": JSON}),
    ("POST", f"/orders/{ORDER}/cancel", {}),
    ("POST", f"/orders/{ORDER}/cancel", {"content": b"null", "headers": JSON}),
    ("POST", f"/orders/{ORDER}/cancel", {"json": {"reason": "late"}}),
    ("POST", f"/orders/{ORDER}/cancel", {"json": {"why": "late"}}),
    ("DELETE", f"/orders/{ORDER}/items/A-1", {}),
    ("DELETE", f"/orders/{ORDER}/items/{'x' * 65}", {}),
    ("DELETE", "/orders/nope/items/a%20b", {}),
    ("GET", f"/orders/{ORDER}/cancel", {}),
]


async def _answers(app: FastAPI) -> list[tuple[int, Any, str | None]]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answers = []
        for method, path, options in CASES:
            response = await client.request(method, path, **options)
            answers.append((response.status_code, response.json(), response.headers.get("allow")))
        return answers


async def test_a_command_route_answers_every_input_as_fastapi_would() -> None:
    plain = await _answers(_app(lean=False))
    for lean in (await _answers(_app(lean=True)), await _answers(_app(lean=True, lane=True))):
        for case, mine, theirs in zip(CASES, lean, plain, strict=True):
            assert mine == theirs, case


def test_a_command_route_refuses_what_it_would_not_resolve() -> None:
    async def query(order_id: UUID, limit: int, request: Request) -> Response:
        raise AssertionError

    async def dependency(order_id: UUID, caller: Annotated[str, Depends(lambda: "x")]) -> None:
        raise AssertionError

    for endpoint in (query, dependency):
        with pytest.raises(TypeError, match="a command takes"):
            CommandRoute("/orders/{order_id}", endpoint, methods=["POST"])
