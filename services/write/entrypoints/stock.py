"""The stock command routes: receipts and adjustments of a SKU's stock (staff only)."""

from fastapi import FastAPI, Request, Response

from ..domain.commands import AdjustStock, ReceiveStock
from . import commands
from .commands import SkuPath, command_route, respond
from .deps import command

DECLARED: commands.Declared = []


def install(app: FastAPI) -> None:
    commands.install(app, DECLARED)


@command_route(
    "POST",
    "/stock/{sku}/receipts",
    "receiveStock",
    first_creates="The SKU's stock, as the read service serves it: /stock/{sku}",
    into=DECLARED,
)
async def receive_stock(sku: SkuPath, body: ReceiveStock, request: Request) -> Response:
    """Receive units of a SKU; its first receipt starts tracking its stock (201)."""
    handlers, ctx = await command(request)
    result = await handlers.receive_stock(sku, body, ctx)
    return respond(result, "stock", "ReceiveStock", name=sku)


@command_route("POST", "/stock/{sku}/adjustments", "adjustStock", into=DECLARED)
async def adjust_stock(sku: SkuPath, body: AdjustStock, request: Request) -> Response:
    """Correct what is on hand of a tracked SKU, by a signed quantity; never below 0 nor below
    what is reserved (409)."""
    handlers, ctx = await command(request)
    return respond(await handlers.adjust_stock(sku, body, ctx), "stock", "AdjustStock")
