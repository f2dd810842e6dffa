"""The process with two write replicas: a race for the last unit, and its leader SIGKILLed
again and again during a burst of orders."""

import asyncio
import contextlib
import random
from collections import Counter
from uuid import uuid4

import httpx

from tests.e2e.fulfilment.conftest import MakeShop
from tests.e2e.fulfilment.shop import OUTCOMES, Shop, eventually, fold_levels

PROCESS_LOCK = 7_201_003  # the fulfilment process's advisory lock (see its adapter)


def levels_hold(log: list[dict[str, object]]) -> bool:
    """Every event of the stock item shows 0 <= reserved <= on hand."""
    return all(0 <= int(e["reserved"]) <= int(e["on_hand"]) for e in log)  # type: ignore[call-overload]


async def test_thirty_orders_for_the_last_unit_reserve_it_once(make_shop: MakeShop) -> None:
    shop = make_shop(replicas=2)
    await shop.start_writes()
    await shop.receive("LAST-1", 1)
    customer = await shop.customer()
    orders = await asyncio.gather(
        *(shop.place(customer, ("LAST-1", 1), via=i % 2) for i in range(30))
    )
    outcomes = Counter([await shop.outcome(order) for order in orders])
    assert outcomes == {"OrderStockReserved": 1, "OrderRejected": 29}
    log = await shop.stock_log("LAST-1")
    assert levels_hold(log), log
    assert fold_levels(log)[:2] == (1, 1) and (log[-1]["on_hand"], log[-1]["reserved"]) == (1, 1)


async def _place_through_either(shop: Shop, customer: str, lines: list[tuple[str, int]]) -> str:
    """Place one order, retried through the other replica while one is down; the same
    Idempotency-Key makes a retry the same order."""
    key = uuid4().hex
    items = [{"sku": s, "name": s, "quantity": q, "unit_price": "5.00"} for s, q in lines]
    body = {
        "customer_id": customer,
        "items": items,
        "shipping_address": {
            "line1": "1 Main St",
            "city": "Oslo",
            "postal_code": "0150",
            "country": "NO",
        },
        "currency": "EUR",
    }
    for attempt in range(200):
        service = shop.writes[attempt % len(shop.writes)]
        if not service.alive():
            await asyncio.sleep(0.05)
            continue
        with contextlib.suppress(httpx.HTTPError):
            async with service.client() as client:
                response = await client.post("/orders", json=body, headers={"Idempotency-Key": key})
            if response.status_code in (200, 201):
                return str(response.json()["id"])
            assert response.status_code in (502, 503), response.text
        await asyncio.sleep(0.05)
    raise AssertionError(f"no replica took the order\n{shop.tails()}")


async def _kill_leaders(shop: Shop, stop: asyncio.Event, killed: list[str]) -> None:
    """Every 2 s: SIGKILL whichever replica leads the process, then start it again."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 2.0)
        leader = await shop.leader(PROCESS_LOCK)
        if leader is not None and not stop.is_set():
            leader.kill()
            killed.append(leader.name)
            await asyncio.to_thread(leader.launch)


async def test_a_leader_killed_again_and_again_loses_and_duplicates_nothing(
    make_shop: MakeShop,
) -> None:
    shop = make_shop(replicas=2)
    await shop.start_writes()
    skus = {"K-1": 300, "K-2": 200, "K-3": 100}
    for sku, quantity in skus.items():
        await shop.receive(sku, quantity)
    customer = await shop.customer()
    rng = random.Random(7)
    stop, killed = asyncio.Event(), list[str]()
    killer = asyncio.create_task(_kill_leaders(shop, stop, killed))
    orders: list[str] = []
    try:
        for start in range(0, 500, 25):
            burst = [rng.sample(sorted(skus), rng.randint(1, 3)) for _ in range(start, start + 25)]
            orders += await asyncio.gather(
                *(
                    _place_through_either(shop, customer, [(s, rng.randint(1, 2)) for s in b])
                    for b in burst
                )
            )
    finally:
        stop.set()
        await killer
    assert killed, "no leader was ever killed"
    await eventually(
        lambda: _undecided(shop, orders), lambda n: n == 0, timeout=180, what="every outcome"
    )
    per_order = await shop.query(
        "SELECT stream_id::text AS id, count(*) AS n FROM events"
        " WHERE event_type = ANY($1) GROUP BY stream_id",
        list(OUTCOMES),
    )
    assert {r["id"]: r["n"] for r in per_order} == dict.fromkeys(orders, 1)
    for sku in skus:
        log = await shop.stock_log(sku)
        assert levels_hold(log)
        reserved = Counter(e["order_id"] for e in log if e["type"] == "StockReserved")
        assert max(reserved.values(), default=0) <= 1, f"{sku}: an order reserved twice"
        on_hand, held, _ = fold_levels(log)
        assert (log[-1]["on_hand"], log[-1]["reserved"]) == (on_hand, held) == (skus[sku], held)


async def _undecided(shop: Shop, orders: list[str]) -> int:
    rows = await shop.query(
        "SELECT count(DISTINCT stream_id) AS n FROM events WHERE event_type = ANY($1)"
        " AND stream_id = ANY($2::uuid[])",
        list(OUTCOMES),
        orders,
    )
    return len(orders) - int(rows[0]["n"])
