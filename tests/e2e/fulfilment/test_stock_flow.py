"""An order's stock through HTTP on the real servers: reserved, confirmed and shipped; refused
and rejected with nothing left reserved; the reservation of a line that could be had given back
when another line is short."""

from collections.abc import Callable

from tests.e2e.fulfilment.conftest import MakeShop
from tests.e2e.fulfilment.shop import Doc, fold_levels


def at_version(version: int) -> Callable[[Doc], bool]:
    return lambda doc: doc.get("version") == version


async def test_an_order_is_reserved_confirmed_and_shipped(make_shop: MakeShop) -> None:
    shop = make_shop()
    await shop.start_writes()
    await shop.start_read()
    await shop.receive("A", 5)
    order = await shop.place(await shop.customer(), ("A", 2))
    assert await shop.outcome(order) == "OrderStockReserved"
    seen = await shop.stock_doc("A", lambda d: d.get("available") == 3)
    assert (seen["on_hand"], seen["reserved"], seen["sku"]) == (5, 2, "A")
    await shop.confirm(order)
    await shop.ship(order)
    shipped = await shop.stock_doc("A", lambda d: d.get("reserved") == 0)
    assert (shipped["on_hand"], shipped["available"]) == (3, 3)
    assert fold_levels(await shop.stock_log("A"))[:2] == (3, 0)


async def test_an_order_beyond_what_is_available_is_rejected(make_shop: MakeShop) -> None:
    shop = make_shop()
    await shop.start_writes()
    await shop.receive("B", 3)
    order = await shop.place(await shop.customer(), ("B", 10))
    assert await shop.outcome(order) == "OrderRejected"
    log = await shop.stock_log("B")
    refused = [e for e in log if e["type"] == "StockReservationRefused"]
    assert [(e["quantity"], e["available"]) for e in refused] == [(10, 3)]
    assert fold_levels(log)[:2] == (3, 0) and log[-1]["reserved"] == 0


async def test_a_short_line_releases_the_line_that_was_reserved(make_shop: MakeShop) -> None:
    shop = make_shop()
    await shop.start_writes()
    await shop.start_read()
    await shop.receive("C", 4)
    await shop.receive("D", 1)
    order = await shop.place(await shop.customer(), ("C", 2), ("D", 3))
    assert await shop.outcome(order) == "OrderRejected"
    for sku, on_hand in (("C", 4), ("D", 1)):
        log = await shop.stock_log(sku)
        assert fold_levels(log)[1] == 0 and log[-1]["reserved"] == 0, (sku, log)
        seen = await shop.stock_doc(sku, at_version(len(log)))
        assert (seen["on_hand"], seen["reserved"]) == (on_hand, 0)
    released = [e["type"] for e in await shop.stock_log("C")]
    assert released.count("StockReserved") <= 1 and released[-1] == "StockReleased"
    assert (await shop.order_events(order))[-1] == "OrderRejected"


async def test_untracked_orders_confirm_at_once(make_shop: MakeShop) -> None:
    shop = make_shop()
    await shop.start_writes()
    await shop.receive("E", 1)  # another SKU is tracked: this order's is not
    order = await shop.place(await shop.customer(), ("UNTRACKED-1", 3))
    await shop.confirm(order)
    assert await shop.process_events(order) == []
    assert "OrderStockReserved" not in await shop.order_events(order)
