"""Reservations that are not confirmed in time: the process cancels the order and gives its
stock back, once, even when every write replica was down when the deadline fell due."""

from tests.e2e.fulfilment.conftest import MakeShop
from tests.e2e.fulfilment.shop import eventually, fold_levels

TTL = {"RESERVATION_TTL_SECONDS": "5"}


async def test_an_unconfirmed_order_is_cancelled_and_its_stock_released(
    make_shop: MakeShop,
) -> None:
    shop = make_shop(replicas=2, env=TTL)
    await shop.start_writes()
    await shop.receive("T-1", 4)
    customer = await shop.customer()
    late, kept = await shop.place(customer, ("T-1", 1)), await shop.place(customer, ("T-1", 2))
    assert await shop.outcome(late) == "OrderStockReserved"
    assert await shop.outcome(kept) == "OrderStockReserved"
    await shop.confirm(kept)
    await eventually(
        lambda: shop.order_events(late),
        lambda types: "OrderCancelled" in types,
        timeout=60,
        what="the expired order cancelled",
    )
    rows = await shop.query(
        "SELECT data->>'reason' AS reason, metadata->'actor'->>'subject' AS actor FROM events"
        " WHERE stream_id = $1::uuid AND event_type = 'OrderCancelled'",
        late,
    )
    assert len(rows) == 1 and rows[0]["actor"] == "process:fulfilment"
    assert "expired" in rows[0]["reason"]
    await eventually(
        lambda: shop.stock_log("T-1"),
        lambda events: fold_levels(events)[1] == 2,
        timeout=30,
        what="the expired order's unit released",
    )
    assert "OrderCancelled" not in await shop.order_events(kept)


async def test_a_deadline_that_fell_due_while_every_replica_was_down_fires_once(
    make_shop: MakeShop,
) -> None:
    shop = make_shop(replicas=2, env=TTL)
    await shop.start_writes()
    await shop.receive("T-2", 4)
    customer = await shop.customer()
    order, confirmed = (
        await shop.place(customer, ("T-2", 3)),
        await shop.place(customer, ("T-2", 1)),
    )
    assert await shop.outcome(order) == "OrderStockReserved"
    assert await shop.outcome(confirmed) == "OrderStockReserved"
    await shop.confirm(confirmed)
    shop.stop_writes()
    due = await shop.query(
        "SELECT deadline_at > now() AS ahead FROM fulfilment_instances WHERE order_id = $1::uuid",
        order,
    )
    assert due and due[0]["ahead"], "the deadline was not pending when the replicas stopped"
    await eventually(
        lambda: shop.query(
            "SELECT 1 FROM fulfilment_instances WHERE order_id = $1::uuid"
            " AND deadline_at < now() - interval '1 second'",
            order,
        ),
        bool,
        timeout=30,
        what="the deadline passed while nothing ran",
    )
    await shop.start_writes()
    await eventually(
        lambda: shop.order_events(order),
        lambda types: "OrderCancelled" in types,
        timeout=60,
        what="the deadline fired after the restart",
    )
    await eventually(
        lambda: shop.stock_log("T-2"),
        lambda events: fold_levels(events)[1] == 1,
        timeout=30,
        what="the stock released (the confirmed order's unit stays reserved)",
    )
    shop.stop_writes()  # and once more: nothing fires again
    await shop.start_writes()
    await eventually(
        lambda: shop.query(
            "SELECT state FROM fulfilment_instances WHERE order_id = $1::uuid", order
        ),
        lambda rows: bool(rows) and rows[0]["state"] == "completed",
        timeout=30,
        what="the instance completed",
    )
    assert (await shop.order_events(order)).count("OrderCancelled") == 1
    assert (await shop.process_events(order)).count("ReservationExpired") == 1
    assert "OrderCancelled" not in await shop.order_events(confirmed)
