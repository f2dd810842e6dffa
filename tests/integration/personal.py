"""Appends of customers' and orders' personal data to the real store, for the tests of sealing
and erasure."""

import base64
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from services.write.adapters.keys import LocalKeyWrapper
from services.write.adapters.postgres import PostgresEventStore
from services.write.application.ports import AppendResult, EmailClaim, ErasureRequest
from shared.contracts.envelope import EventMetadata
from shared.contracts.events import (
    CustomerEmailChanged,
    CustomerErased,
    CustomerRegistered,
    CustomerRenamed,
    OrderLine,
    OrderPlaced,
    ShippingAddress,
)
from shared.contracts.personal import ERASED_FIELDS
from tests.stores import TEST_KEYS

META = EventMetadata(correlation_id="c1")
ADDRESS = ShippingAddress(line1="1 Rue Secrète", city="Lyon", postal_code="69001", country="FR")
LINE = OrderLine(sku="S", name="Widget", quantity=1, unit_price="5.00")


def local_kek() -> LocalKeyWrapper:
    """The key-encryption key the test stores wrap data keys with."""
    return LocalKeyWrapper(base64.b64decode(TEST_KEYS["pii_kek"]), "local-1")


async def register(
    store: PostgresEventStore, email: str, name: str = "Ann Secret", **options: Any
) -> UUID:
    customer = uuid4()
    await store.append(
        stream_type="customer",
        stream_id=customer,
        expected_version=0,
        events=[CustomerRegistered(name=name, email=email)],
        metadata=META,
        email=EmailClaim(claim=email.strip().lower()),
        **options,
    )
    return customer


async def rename(
    store: PostgresEventStore, customer: UUID, name: str, version: int = 1
) -> AppendResult:
    return await store.append(
        stream_type="customer",
        stream_id=customer,
        expected_version=version,
        events=[CustomerRenamed(name=name)],
        metadata=META,
    )


async def change_email(
    store: PostgresEventStore, customer: UUID, old: str, new: str, version: int = 1
) -> AppendResult:
    return await store.append(
        stream_type="customer",
        stream_id=customer,
        expected_version=version,
        events=[CustomerEmailChanged(old_email=old, new_email=new)],
        metadata=META,
        email=EmailClaim(claim=new.lower(), release=old.lower()),
    )


async def place(store: PostgresEventStore, customer: UUID) -> UUID:
    order = uuid4()
    await store.append(
        stream_type="order",
        stream_id=order,
        expected_version=0,
        events=[placed(customer)],
        metadata=META,
    )
    return order


def placed(customer: UUID) -> OrderPlaced:
    return OrderPlaced(
        customer_id=customer,
        items=[LINE],
        shipping_address=ADDRESS,
        currency="EUR",
        total="5.00",
    )


async def erase(store: PostgresEventStore, customer: UUID, version: int) -> AppendResult:
    erased_at = datetime.now(UTC)
    return await store.append(
        stream_type="customer",
        stream_id=customer,
        expected_version=version,
        events=[CustomerErased(erased_at=erased_at, fields=list(ERASED_FIELDS))],
        metadata=META,
        erasure=ErasureRequest(
            customer_id=customer,
            erased_at=erased_at,
            requested_by={"subject": "operator", "client_id": "back-office"},
            fields=ERASED_FIELDS,
        ),
    )


async def stored_text(store: PostgresEventStore, stream_id: UUID) -> str:
    """Every row of a stream as the table holds it, as text."""
    rows = await store.pool.fetch(
        "SELECT data::text FROM events WHERE stream_id = $1 ORDER BY version", stream_id
    )
    return "\n".join(row[0] for row in rows)
