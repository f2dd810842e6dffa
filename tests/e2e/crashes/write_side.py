"""The write side of the crash tests: a history written fast, the relay's progress, and the
streams folded into what every projection must end up agreeing with."""

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

import asyncpg
import httpx
import orjson

from shared.contracts.events import OrderLine
from tests.e2e.crashes.cluster import Service
from tests.history import Shape, event_store, write_history
from tests.read_side import Snapshot
from tests.stores import opened_data

PRICES = {"SKU-A": Decimal("2.50"), "SKU-B": Decimal("10.00"), "SKU-C": Decimal("0.99")}
SKUS = list(PRICES)


def line(order: int, k: int) -> OrderLine:
    """Order n is placed with one unit of one SKU, then gets 1 to 4 units of each SKU in turn."""
    sku = SKUS[order % 3] if k == 0 else SKUS[(order + k - 1) % 3]
    quantity = 1 if k == 0 else 1 + (k - 1) % 4
    return OrderLine(sku=sku, name=sku, quantity=quantity, unit_price=PRICES[sku])


def then(order: int) -> list[str]:
    # A rename far behind its customer's order's events: denormalization must follow.
    steps = [("rename", order % 4 == 0), ("confirm", order % 5 == 0), ("cancel", order % 7 == 0)]
    return [step for step, taken in steps if taken]


async def write_backlog(pg_url: str, *, customers: int, adds: int) -> None:
    """About customers * (adds + 2.6) events, fast: commands for the aggregates' first events
    and their last steps, the item additions appended in between, eight to a transaction."""
    shape = Shape(customers=customers, adds=adds, line=line, then=then)
    async with event_store(pg_url) as store:
        await write_history(store, shape, straight="additions", batch=8, concurrency=16)


async def rename(write: Service, customer_id: str, name: str) -> None:
    async with httpx.AsyncClient(base_url=write.url, timeout=30, headers=write.headers) as client:
        response = await client.post(f"/customers/{customer_id}/rename", json={"name": name})
    assert response.status_code == 200, response.text


async def log_head(pg_url: str) -> int:
    conn = await asyncpg.connect(pg_url)
    try:
        return int(await conn.fetchval("SELECT coalesce(max(position), 0) FROM events"))
    finally:
        await conn.close()


async def wait_published(pg_url: str, write: Service, timeout: float = 120) -> None:
    """Bounded polling until the relay's checkpoint is the last event in commit order."""
    conn = await asyncpg.connect(pg_url)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            last = await conn.fetchrow(
                "SELECT transaction_id::text::bigint AS tx, position FROM events"
                " ORDER BY transaction_id DESC, position DESC LIMIT 1"
            )
            done = await conn.fetchrow(
                "SELECT transaction_id::text::bigint AS tx, position FROM relay_checkpoints"
            )
            if last and done and tuple(last) == tuple(done):
                return
            await asyncio.sleep(0.2)
    finally:
        await conn.close()
    raise AssertionError(f"the relay did not publish the log in {timeout}s\n{write.tail()}")


@dataclass
class Truth:
    """The write side's streams, folded: what every projection must end up agreeing with."""

    versions: dict[str, int] = field(default_factory=dict)
    quantities: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    status: dict[str, str] = field(default_factory=dict)
    customer_of: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    emails: dict[str, str] = field(default_factory=dict)
    events: int = 0

    def orders_of(self, customer_id: str) -> list[str]:
        return [o for o, c in self.customer_of.items() if c == customer_id]


STATUS_OF = {
    "OrderPlaced": "placed",
    "OrderConfirmed": "confirmed",
    "OrderShipped": "shipped",
    "OrderCancelled": "cancelled",
}


async def write_side_truth(pg_url: str) -> Truth:
    pool = await asyncpg.create_pool(pg_url, min_size=1, max_size=2)
    try:
        fetched = await pool.fetch(
            "SELECT stream_type, stream_id, event_id, version, event_type, data::text AS data"
            " FROM events ORDER BY stream_id, version"
        )
        rows = [{**row, "data": orjson.loads(row["data"])} for row in fetched]
        opened = await opened_data(pool, rows)  # the personal values, as the service opens them
    finally:
        await pool.close()
    truth = Truth(events=len(rows))
    for row, data in zip(rows, opened, strict=True):
        sid, kind = str(row["stream_id"]), row["event_type"]
        assert row["version"] == truth.versions.get(sid, 0) + 1, f"write-side gap in {sid}"
        truth.versions[sid] = row["version"]
        lines = truth.quantities[sid] if kind.startswith("Order") else {}
        if kind == "OrderPlaced":
            truth.customer_of[sid] = data["customer_id"]
            lines.update({x["sku"]: x["quantity"] for x in data["items"]})
        elif kind == "OrderItemAdded":
            lines[data["sku"]] = lines.get(data["sku"], 0) + data["quantity"]
        elif kind == "OrderItemRemoved":
            lines.pop(data["sku"], None)
        elif kind in ("CustomerRegistered", "CustomerRenamed"):
            truth.names[sid] = data["name"]
        if kind in STATUS_OF:
            truth.status[sid] = STATUS_OF[kind]
        if kind in ("CustomerRegistered", "CustomerEmailChanged"):
            truth.emails[sid] = data.get("email") or data["new_email"]
    return truth


def assert_matches_write_side(docs: Snapshot, truth: Truth) -> None:
    """Versions equal the streams' (no event lost, none applied twice), and so do the sums."""
    orders = {d["_id"]: d for d in docs["order_details_v1"]}
    assert orders.keys() == truth.customer_of.keys(), "order_details lost or invented orders"
    for order_id, doc in orders.items():
        where = f"order_details[{order_id}]"
        assert doc["version"] == truth.versions[order_id], f"{where}: version {doc['version']}"
        quantities = {x["sku"]: x["quantity"] for x in doc["items"]}
        assert quantities == truth.quantities[order_id], f"{where}: items {doc['items']}"
        assert doc["status"] == truth.status[order_id], f"{where}: status {doc['status']}"
        customer = truth.customer_of[order_id]
        assert doc["customer_version"] == truth.versions[customer], f"{where}: stale customer"
        assert doc["customer_name"] == truth.names[customer], f"{where}: customer name"
        assert doc["customer_email"] == truth.emails[customer], f"{where}: customer email"
    for role in ("customers_v1_orders", "sales_v1_orders"):
        versions = {d["_id"]: d["version"] for d in docs[role]}
        assert versions == {o: truth.versions[o] for o in truth.customer_of}, f"{role} versions"
    profiles = {d["_id"]: d for d in docs["customers_v1"]}
    assert profiles.keys() == truth.names.keys(), "customers lost or invented"
    for customer_id, profile in profiles.items():
        where = f"customers[{customer_id}]"
        assert profile["version"] == truth.versions[customer_id], f"{where}: version"
        assert profile["order_count"] == len(truth.orders_of(customer_id)), f"{where}: orders"
    copies = {d["_id"]: d["version"] for d in docs["order_details_v1_customers"]}
    assert copies == {c: truth.versions[c] for c in truth.names}, "customer copies' versions"
    kept = [o for o in truth.customer_of if truth.status[o] != "cancelled"]
    units = sum(sum(truth.quantities[o].values()) for o in kept)
    assert sum(d["units"] for d in docs["sales_v1"]) == units, "sales: units"
    placed = sum(d["orders_placed"] for d in docs["sales_v1"])
    assert placed == len(truth.customer_of), "sales: orders placed"
