"""What the console's tests make through the services' APIs and stores: customers and orders,
stock, a dead letter, and a fulfilment instance suspended by a poisoned reservation."""

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
from pymongo import AsyncMongoClient

from services.read.adapters.dead_letters import DeadLetters
from services.read.application.ports import Delivered
from shared.contracts.cloudevents import to_headers
from shared.contracts.envelope import EventMetadata, RecordedEvent
from tests.e2e.console.conftest import Stack

ADDRESS = {"line1": "12 St James Sq", "city": "London", "postal_code": "SW1Y 4JH", "country": "GB"}
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
# Reservations of this SKU fail in the database, as a broken constraint would: its order's
# fulfilment instance is suspended after its attempts.
POISON = """
CREATE OR REPLACE FUNCTION refuse_console_poison() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.event_type = 'StockReserved' AND NEW.data->>'sku' = 'POISON-9' THEN
        RAISE EXCEPTION 'reservations of POISON-9 are refused';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER refuse_console_poison BEFORE INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION refuse_console_poison();
"""
CURE = "DROP TRIGGER refuse_console_poison ON events"


async def customer(stack: Stack, *, traceparent: str | None = None) -> str:
    headers = {"traceparent": traceparent} if traceparent else {}
    body = {"name": "Ada Lovelace", "email": f"ada.{uuid.uuid4().hex[:10]}@example.com"}
    async with stack.writer() as client:
        answer = await client.post("/customers", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def order(stack: Stack, customer_id: str, sku: str = "BOOK-1", quantity: int = 1) -> str:
    line = {"sku": sku, "name": "A book", "quantity": quantity, "unit_price": "19.90"}
    body = {"customer_id": customer_id, "currency": "EUR", "items": [line]}
    async with stack.writer() as client:
        answer = await client.post("/orders", json={**body, "shipping_address": ADDRESS})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def receive(stack: Stack, sku: str, quantity: int) -> None:
    async with stack.writer() as client:
        answer = await client.post(f"/stock/{sku}/receipts", json={"quantity": quantity})
    assert answer.status_code in (200, 201), answer.text


async def sql(stack: Stack, statement: str) -> None:
    connection = await asyncpg.connect(stack.write.env["DATABASE_URL"])
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def dead_letter(stack: Stack) -> tuple[str, str]:
    """A customer's registration dead-lettered by the customers projection (its record as
    Kafka would have delivered it); applying it again works. Its id, and the customer's."""
    event = RecordedEvent(
        position=1,
        transaction_id=1,
        event_id=uuid.uuid4(),
        stream_type="customer",
        stream_id=uuid.uuid4(),
        version=1,
        event_type="CustomerRegistered",
        schema_version=1,
        data={"name": "Grace Hopper", "email": f"grace.{uuid.uuid4().hex[:8]}@example.com"},
        metadata=EventMetadata(),
        recorded_at=datetime.now(UTC),
    )
    topic, offset = stack.write.env["CUSTOMERS_TOPIC"], 900_000
    record = Delivered(
        topic=topic,
        partition=0,
        offset=offset,
        key=str(event.stream_id).encode(),
        value=orjson.dumps(event.data),
        headers=tuple(to_headers(event, source="/console-e2e")),
        timestamp_ms=0,
    )
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.read.env["MONGODB_URL"])
    try:
        letters = DeadLetters(client[stack.read.env["MONGODB_DATABASE"]])
        await letters.add("customers", record, "TimeoutError: made by the test", attempts=3)
    finally:
        await client.close()
    return f"customers:{topic}:0:{offset}", str(event.stream_id)
