"""The command routes: one per command of the domain."""

import functools
from collections.abc import Callable
from typing import Annotated, Any
from uuid import UUID

import orjson
from fastapi import FastAPI, Path, Request, Response

from shared.contracts.events import SKU_PATTERN
from shared.plumbing.access import secured
from shared.plumbing.auth import COMMAND

from ..application.handlers import CommandResult
from ..domain.commands import (
    AddOrderItem,
    CancelOrder,
    ChangeCustomerEmail,
    ConfirmOrder,
    PlaceOrder,
    RegisterCustomer,
    RemoveOrderItem,
    RenameCustomer,
    ShipOrder,
)
from ..metrics import COMMANDS
from . import links
from .command_route import CommandRoute
from .deps import COMMAND_HEADERS, command
from .problems import CUSTOMER_ERASED, STOCK_PENDING, documented
from .schemas import Accepted

# The pattern of the body's SKUs: a segment that cannot be one is refused here, before the
# command is built from it.
SkuPath = Annotated[str, Path(max_length=64, pattern=SKU_PATTERN)]
# A command route: its path, endpoint and route options, as `install` adds them to an app.
Declared = list[tuple[str, Callable[..., Any], dict[str, Any]]]
# Every command of this module (the stock commands have their own list, in stock.py).
DECLARED: Declared = []


def install(app: FastAPI, declared: Declared = DECLARED) -> None:
    """The command routes, on the app's own router. As an included router they would cost
    each command request two passes over the commands declared before its own (FastAPI
    matches an included router's routes through per-inclusion contexts, once to find the
    router and again to pick the route)."""
    for path, endpoint, options in declared:
        app.router.add_api_route(path, endpoint, route_class_override=CommandRoute, **options)


def command_route(
    method: str,
    path: str,
    operation_id: str,
    *,
    creates: bool = False,
    customers: bool = False,
    follow_ups: dict[str, Any] | None = None,
    first_creates: str | None = None,
    conflicts: dict[str, Any] | None = None,
    into: Declared = DECLARED,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A command's route, for ordering:command (and, with `customers`, a customer's token on
    the customer's own data): it answers `Accepted` (201 when it creates the stream) with the
    links to what may follow, and its errors, headers and security are documented.

    `first_creates`: the stream is named by the path, and the first command on it creates it
    (201, with a Location described so; 200 after). `conflicts`: what its 409 says besides."""
    status = 201 if creates else 200
    responses: dict[int | str, dict[str, Any]] = {status: _success(creates, follow_ups)}
    if first_creates is not None:
        responses[201] = _success(True, None, first_creates) | {"model": Accepted}
    errors = _errors(method, creates or first_creates is not None, customers)
    if conflicts:
        errors[409] = {**errors[409], **conflicts}
    options = secured(
        COMMAND,
        customers=customers,
        responses={**responses, **errors},
        openapi_extra=COMMAND_HEADERS,
    )
    options |= {"methods": [method], "operation_id": operation_id, "status_code": status}
    options |= {"response_model": Accepted, "tags": ["commands"]}

    def declare(endpoint: Callable[..., Any]) -> Callable[..., Any]:
        into.append((path, endpoint, options))
        return endpoint

    return declare


def _success(
    creates: bool,
    follow_ups: dict[str, Any] | None,
    created: str = "The path of the new customer or order",
) -> dict[str, Any]:
    headers = {"ETag": _header('The stream\'s new version, as an ETag: "3"')}
    headers["Idempotent-Replayed"] = _header('"true" when this answers an Idempotency-Key again')
    if creates:
        headers["Location"] = _header(created)
    description = "Created: the new stream" if creates else "Done: the stream's new version"
    success = {"description": description, "headers": headers}
    return success | ({"links": follow_ups} if follow_ups else {})


def _header(description: str) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "string"}}


def _errors(method: str, creates: bool, customers: bool) -> dict[int | str, dict[str, Any]]:
    """Where a command can fail: 404 when it names an existing aggregate (or, for a customer's
    token, another customer), 413 when it takes a body; a business rule, a version mismatch,
    invalid input or the store down anywhere."""
    statuses = {409, 412, 422, 503}
    if not creates or customers:
        statuses.add(404)
    if method == "POST":
        statuses.add(413)
    return documented(*statuses)


@functools.cache
def _counter(command: str, outcome: str) -> Any:
    """The command's counter child, looked up once (`labels()` locks on every call)."""
    return COMMANDS.labels(command, outcome)


def respond(
    result: CommandResult, collection: str, command: str, *, name: str | None = None
) -> Response:
    """The command's answer; `Location` (when it created the stream) is `/<collection>/<name>`,
    the stream id by default."""
    _counter(command, "replayed" if result.replayed else "ok").inc()
    headers = {"ETag": f'"{result.version}"'}
    if result.replayed:
        headers["Idempotent-Replayed"] = "true"
    if result.created:
        headers["Location"] = f"/{collection}/{name or result.stream_id}"
    body = {"id": str(result.stream_id), "version": result.version, "position": result.position}
    return Response(
        orjson.dumps(body),
        status_code=201 if result.created else 200,
        headers=headers,
        media_type="application/json",
    )


@command_route(
    "POST",
    "/customers",
    "registerCustomer",
    creates=True,
    follow_ups=links.CUSTOMER_REGISTERED,
)
async def register_customer(body: RegisterCustomer, request: Request) -> Response:
    """Register a customer; the email must not be used by another customer (staff only)."""
    handlers, ctx = await command(request)
    return respond(await handlers.register_customer(body, ctx), "customers", "RegisterCustomer")


@command_route(
    "POST",
    "/customers/{customer_id}/rename",
    "renameCustomer",
    customers=True,
    conflicts=CUSTOMER_ERASED,
)
async def rename_customer(customer_id: UUID, body: RenameCustomer, request: Request) -> Response:
    """Rename a customer."""
    handlers, ctx = await command(request)
    result = await handlers.rename_customer(customer_id, body, ctx)
    return respond(result, "customers", "RenameCustomer")


@command_route(
    "POST",
    "/customers/{customer_id}/change-email",
    "changeCustomerEmail",
    customers=True,
    conflicts=CUSTOMER_ERASED,
)
async def change_customer_email(
    customer_id: UUID, body: ChangeCustomerEmail, request: Request
) -> Response:
    """Change a customer's email (unique across customers, case-insensitively)."""
    handlers, ctx = await command(request)
    result = await handlers.change_customer_email(customer_id, body, ctx)
    return respond(result, "customers", "ChangeCustomerEmail")


@command_route(
    "POST",
    "/orders",
    "placeOrder",
    creates=True,
    customers=True,
    follow_ups=links.ORDER_PLACED,
    conflicts=CUSTOMER_ERASED,
)
async def place_order(body: PlaceOrder, request: Request) -> Response:
    """Place an order for an existing customer (a customer's token: for themselves)."""
    handlers, ctx = await command(request)
    return respond(await handlers.place_order(body, ctx), "orders", "PlaceOrder")


@command_route(
    "POST",
    "/orders/{order_id}/items",
    "addOrderItem",
    customers=True,
    follow_ups=links.ORDER_ITEM_ADDED,
)
async def add_order_item(order_id: UUID, body: AddOrderItem, request: Request) -> Response:
    """Add an item to a placed order (the same SKU adds to its quantity)."""
    handlers, ctx = await command(request)
    return respond(await handlers.add_order_item(order_id, body, ctx), "orders", "AddOrderItem")


@command_route("DELETE", "/orders/{order_id}/items/{sku}", "removeOrderItem", customers=True)
async def remove_order_item(order_id: UUID, sku: SkuPath, request: Request) -> Response:
    """Remove an item from a placed order; an order keeps at least one item."""
    handlers, ctx = await command(request)
    result = await handlers.remove_order_item(order_id, RemoveOrderItem(sku=sku), ctx)
    return respond(result, "orders", "RemoveOrderItem")


@command_route(
    "POST",
    "/orders/{order_id}/confirm",
    "confirmOrder",
    follow_ups=links.ORDER_CONFIRMED,
    conflicts=STOCK_PENDING,
)
async def confirm_order(
    order_id: UUID, request: Request, body: ConfirmOrder | None = None
) -> Response:
    """Confirm a placed order whose tracked lines are reserved (staff only)."""
    handlers, ctx = await command(request)
    return respond(await handlers.confirm_order(order_id, ctx), "orders", "ConfirmOrder")


@command_route("POST", "/orders/{order_id}/ship", "shipOrder")
async def ship_order(order_id: UUID, body: ShipOrder, request: Request) -> Response:
    """Ship a confirmed order (staff only)."""
    handlers, ctx = await command(request)
    return respond(await handlers.ship_order(order_id, body, ctx), "orders", "ShipOrder")


@command_route("POST", "/orders/{order_id}/cancel", "cancelOrder", customers=True)
async def cancel_order(
    order_id: UUID, request: Request, body: CancelOrder | None = None
) -> Response:
    """Cancel a placed or confirmed order (a shipped order cannot be cancelled)."""
    handlers, ctx = await command(request)
    result = await handlers.cancel_order(order_id, body or CancelOrder(), ctx)
    return respond(result, "orders", "CancelOrder")
