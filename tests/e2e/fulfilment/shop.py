"""The fulfilment tests' world: write replicas over one event store, a read service, and what
their clients do and see (the log read straight from PostgreSQL, the documents over HTTP)."""

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID, uuid4

import asyncpg
import orjson
import psutil

from deploy.local.stack import LocalIssuer, free_port
from shared.contracts.events import fulfilment_stream_id, stock_stream_id
from tests.auth import auth_env, bearer, pii_env, token
from tests.backends import Backend
from tests.e2e.crashes.cluster import Service
from tests.e2e.write_api import ADDRESS

Doc = dict[str, Any]
T = TypeVar("T")
OUTCOMES = ("OrderStockReserved", "OrderRejected")


async def eventually(
    probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], *, timeout: float, what: str
) -> T:
    """Poll `probe` until `done` holds of what it returns (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached in {timeout}s, last seen {value!r}")
        await asyncio.sleep(0.1)


class Shop:
    """`replicas` write services (each with its relay and its fulfilment process; one of each
    leads) and, when started, a read service."""

    def __init__(
        self,
        *,
        pg_url: str,
        kafka: Backend,
        mongo: Backend,
        issuer: LocalIssuer,
        logs: Path,
        replicas: int = 1,
        env: dict[str, str] | None = None,
    ) -> None:
        suffix = uuid4().hex[:8]
        self.pg_url, self.mongo_url = pg_url, mongo.url
        self.env = {
            **os.environ,
            **auth_env(issuer),
            **pii_env(),  # one set for every replica over this store
            "DATABASE_URL": pg_url,
            "KAFKA_BOOTSTRAP_SERVERS": kafka.url,
            "KAFKA_ENABLE_IDEMPOTENCE": "false" if kafka.kind == "embedded" else "true",
            "CUSTOMERS_TOPIC": f"customers.{suffix}",
            "ORDERS_TOPIC": f"orders.{suffix}",
            "STOCK_TOPIC": f"stock.{suffix}",
            "RELAY_MARKER_TOPIC": f"marker.{suffix}",
            "RELAY_POLL_SECONDS": "0.2",
            "LOG_FORMAT": "text",
            **(env or {}),
        }
        self.headers = bearer(token(issuer))  # staff: every scope
        self.writes = [
            Service(f"write-{i}", "services.write", {}, logs / f"write-{i}.log", self.headers)
            for i in range(replicas)
        ]
        for service in self.writes:
            service.env = {**self.env, "WRITE_PORT": str(free_port())}
        self.read: Service | None = None
        self._logs = logs

    async def start_writes(self) -> None:
        await asyncio.gather(*(asyncio.to_thread(s.launch) for s in self.writes if not s.alive()))

    def stop_writes(self) -> None:
        for service in self.writes:
            service.stop()

    async def start_read(self) -> Service:
        suffix = uuid4().hex[:8]
        env = {
            **self.env,
            "MONGODB_URL": self.mongo_url,
            "MONGODB_DATABASE": f"fulfilment_{suffix}",
            "CONSUMER_GROUP_PREFIX": f"fulfilment-{suffix}",
            "WRITE_SERVICE_URL": self.writes[0].url,
            "READ_PORT": str(free_port()),
            "LAG_POLL_SECONDS": "0.2",
            "KAFKA_SESSION_TIMEOUT_MS": "6000",
        }
        self.read = Service("read", "services.read", env, self._logs / "read.log", self.headers)
        await asyncio.to_thread(self.read.launch)
        return self.read

    def close(self) -> None:
        for service in [*self.writes, *([self.read] if self.read else [])]:
            service.stop()

    def tails(self) -> str:
        return "\n".join(s.tail() for s in [*self.writes, *([self.read] if self.read else [])])

    # -- what clients do -------------------------------------------------------------------------

    async def send(self, method: str, path: str, body: Doc | None = None, *, via: int = 0) -> Doc:
        """One command through replica `via`; it must succeed."""
        async with self.writes[via].client() as client:
            response = await client.request(method, path, json=body)
        assert response.status_code in (200, 201), f"{method} {path}: {response.text}"
        result: Doc = response.json()
        return result

    async def receive(self, sku: str, quantity: int, *, via: int = 0) -> Doc:
        return await self.send("POST", f"/stock/{sku}/receipts", {"quantity": quantity}, via=via)

    async def customer(self) -> str:
        body = {"name": "Ada", "email": f"ada.{uuid4().hex[:10]}@example.com"}
        return str((await self.send("POST", "/customers", body))["id"])

    async def place(self, customer_id: str, *lines: tuple[str, int], via: int = 0) -> str:
        items = [{"sku": s, "name": s, "quantity": q, "unit_price": "5.00"} for s, q in lines]
        body = {"customer_id": customer_id, "items": items, "shipping_address": ADDRESS}
        return str((await self.send("POST", "/orders", {**body, "currency": "EUR"}, via=via))["id"])

    async def confirm(self, order_id: str) -> Doc:
        return await self.send("POST", f"/orders/{order_id}/confirm")

    async def ship(self, order_id: str) -> Doc:
        body = {"carrier": "UPS", "tracking_number": "1Z999"}
        return await self.send("POST", f"/orders/{order_id}/ship", body)

    # -- what the log holds ----------------------------------------------------------------------

    async def query(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.pg_url)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    async def execute(self, sql: str) -> None:
        """Statements (several allowed) run as they are, outside any service."""
        conn = await asyncpg.connect(self.pg_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def order_events(self, order_id: str) -> list[str]:
        rows = await self.query(
            "SELECT event_type FROM events WHERE stream_id = $1::uuid ORDER BY version", order_id
        )
        return [r["event_type"] for r in rows]

    async def outcome(self, order_id: str, *, timeout: float = 60) -> str:
        """OrderStockReserved or OrderRejected, once the process decided."""
        found = await eventually(
            lambda: self.order_events(order_id),
            lambda types: any(t in OUTCOMES for t in types),
            timeout=timeout,
            what=f"an outcome for order {order_id}\n{self.tails()}",
        )
        return next(t for t in found if t in OUTCOMES)

    async def stock_log(self, sku: str) -> list[Doc]:
        """The stock item's events, in version order: type, data."""
        rows = await self.query(
            "SELECT event_type, data FROM events WHERE stream_id = $1 ORDER BY version",
            stock_stream_id(sku),
        )
        return [{"type": r["event_type"], **_json(r["data"])} for r in rows]

    async def process_events(self, order_id: str) -> list[str]:
        rows = await self.query(
            "SELECT event_type FROM events WHERE stream_id = $1 ORDER BY version",
            fulfilment_stream_id(UUID(order_id)),
        )
        return [r["event_type"] for r in rows]

    async def leader(self, lock: int) -> Service | None:
        """The replica whose connection holds advisory lock `lock` (a leader's), if any."""
        rows = await self.query(
            "SELECT a.client_port FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.objid = $1",
            lock & 0xFFFFFFFF,
        )
        ports = {r["client_port"] for r in rows}
        for service in self.writes:
            if service.alive():
                mine = psutil.Process(service.pid).net_connections(kind="tcp")
                if any(c.laddr and c.laddr.port in ports for c in mine):
                    return service
        return None

    # -- what the read side shows ----------------------------------------------------------------

    async def stock_doc(self, sku: str, done: Callable[[Doc], bool], *, timeout: float = 60) -> Doc:
        assert self.read is not None, "the read service is not started"
        read = self.read

        async def probe() -> Doc:
            async with read.client() as client:
                response = await client.get(f"/stock/{sku}")
            return response.json() if response.status_code == 200 else {}

        return await eventually(probe, done, timeout=timeout, what=f"stock of {sku}")


def _json(value: Any) -> Doc:
    return orjson.loads(value) if isinstance(value, str | bytes) else dict(value)


def fold_levels(log: list[Doc]) -> tuple[int, int, dict[str, int]]:
    """On hand, reserved and each order's reservation, folded from the stock item's events
    alone (quantities, not the levels they carry): what the levels must agree with."""
    on_hand, reservations = 0, dict[str, int]()
    for event in log:
        kind, quantity = event["type"], event["quantity"]
        if kind in ("StockReceived", "StockAdjusted"):
            on_hand += quantity
        elif kind == "StockReserved":
            reservations[event["order_id"]] = quantity
        elif kind == "StockReleased":
            reservations.pop(event["order_id"])
        elif kind == "StockShippedOut":
            on_hand -= reservations.pop(event["order_id"])
    return on_hand, sum(reservations.values()), reservations
