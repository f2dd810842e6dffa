"""Erasure in the real event store: the key destroyed and the claims released with the
CustomerErased append, the journal a fence no key gets past, and what loads afterwards."""

from uuid import UUID

import asyncpg
import pytest

from services.write.adapters.postgres import PostgresEventStore
from services.write.application.ports import SubjectErased
from services.write.domain.order import Order
from shared.contracts.events import CustomerErased, OrderConfirmed, OrderPlaced
from shared.contracts.personal import ERASED_FIELDS
from tests.integration.personal import (
    META,
    change_email,
    erase,
    local_kek,
    place,
    register,
    rename,
)
from tests.stores import event_store


async def erased_customer(store: PostgresEventStore) -> tuple[UUID, UUID, int]:
    """A customer with an order and two claims' history, erased: (customer, order, position)."""
    customer = await register(store, "ida@example.com", name="Ida Secret")
    await change_email(store, customer, "ida@example.com", "ida2@example.com")
    order = await place(store, customer)
    result = await erase(store, customer, version=2)
    return customer, order, result.position


async def test_the_erasure_deletes_the_key_and_claims_and_journals_itself(
    store: PostgresEventStore,
) -> None:
    other = await register(store, "jo@example.com")
    customer, _, position = await erased_customer(store)
    assert (
        await store.pool.fetchval(
            "SELECT count(*) FROM customer_keys WHERE customer_id = $1", customer
        )
        == 0
    )
    held = await store.pool.fetch("SELECT customer_id FROM customer_emails")
    assert [r["customer_id"] for r in held] == [other]  # another customer's claim stays
    journal = await store.pool.fetchrow(
        "SELECT * FROM customer_erasures WHERE customer_id = $1", customer
    )
    event_id = await store.pool.fetchval(
        "SELECT event_id FROM events WHERE stream_id = $1 AND version = 3", customer
    )
    assert journal is not None
    assert (journal["event_id"], journal["position"]) == (event_id, position)
    assert journal["fields"] == list(ERASED_FIELDS) and journal["claims_released"] == 1
    assert journal["requested_by"] == {"subject": "operator", "client_id": "back-office"}


async def test_after_the_erasure_loads_give_none_and_orders_still_fold(
    store: PostgresEventStore,
) -> None:
    customer, order, _ = await erased_customer(store)
    for reader in (store, event_store(store.pool)):  # this replica, and one with no cache
        events = (await reader.load(customer)).events
        assert [getattr(e, "name", None) for e in events] == [None, None, None]
        assert events[1].model_dump()["old_email"] is None
        assert isinstance(events[2], CustomerErased)
        loaded = (await reader.load(order)).events
        assert isinstance(loaded[0], OrderPlaced) and loaded[0].customer_id == customer
        address = loaded[0].shipping_address.model_dump()
        assert address == {"line1": None, "city": None, "postal_code": None, "country": "FR"}
        assert loaded[0].items[0].sku == "S"
    aggregate = Order.rehydrate(order, loaded)
    assert aggregate.customer_id == customer and aggregate.version == 1
    # no personal data in it: an erased customer's order may still be confirmed
    await store.append(
        stream_type="order",
        stream_id=order,
        expected_version=1,
        events=[OrderConfirmed()],
        metadata=META,
    )


async def test_after_the_erasure_sealing_appends_are_refused_on_every_replica(
    store: PostgresEventStore,
) -> None:
    warm = event_store(store.pool)
    customer = await register(store, "kim@example.com")
    await rename(warm, customer, "Kim Warm")  # this replica now holds the key in its cache
    await erase(store, customer, version=2)
    for replica in (store, warm, event_store(store.pool)):
        with pytest.raises(SubjectErased):
            await rename(replica, customer, "Kim Again", version=3)
        with pytest.raises(SubjectErased):
            await place(replica, customer)
    assert (
        await store.pool.fetchval("SELECT count(*) FROM events WHERE event_type = 'OrderPlaced'")
        == 0
    )
    with pytest.raises(SubjectErased):  # a second erasure: the journal has the first
        await erase(store, customer, version=3)


async def test_no_key_is_ever_kept_again_for_an_erased_customer(
    store: PostgresEventStore,
) -> None:
    customer = await register(store, "lou@example.com")
    old = await store.pool.fetchrow("SELECT * FROM customer_keys WHERE customer_id = $1", customer)
    assert old is not None
    await erase(store, customer, version=1)
    insert = "INSERT INTO customer_keys (customer_id, wrapped, kek_id) VALUES ($1, $2, $3)"
    with pytest.raises(asyncpg.CheckViolationError):
        await store.pool.execute(insert, customer, old["wrapped"], old["kek_id"])
    async with store.pool.acquire() as conn, conn.transaction():
        # a key table restored from a backup, the trigger bypassed: still nothing opens
        await conn.execute("ALTER TABLE customer_keys DISABLE TRIGGER customer_keys_not_erased")
        await conn.execute(insert, customer, old["wrapped"], old["kek_id"])
        await conn.execute("ALTER TABLE customer_keys ENABLE TRIGGER customer_keys_not_erased")
    fresh = event_store(store.pool)
    assert (await fresh.keys.lookup([customer]))[customer].wrapped is None
    assert await fresh.keys.ciphers([customer]) == {customer: None}
    assert (await fresh.load(customer)).events[0].model_dump()["name"] is None
    with pytest.raises(SubjectErased):
        await place(fresh, customer)
    assert await local_kek().unwrap(customer, old["wrapped"])  # the row itself is intact


async def test_the_erasure_releases_the_email_for_a_new_registration(
    store: PostgresEventStore,
) -> None:
    customer = await register(store, "mia@example.com")
    await erase(store, customer, version=1)
    again = await register(store, "Mia@Example.com")
    assert again != customer
    held = await store.pool.fetch("SELECT customer_id FROM customer_emails")
    assert [r["customer_id"] for r in held] == [again]
