"""Personal data in the real event store: sealed in every row, keys wrapped per customer,
opened again on load, and claims of emails held by their blind index only."""

import os
from uuid import uuid4

import pytest

from deploy.local.keys import new_pii_keys
from services.write.adapters.keys import LocalKeyWrapper, WrongKey
from services.write.adapters.migrations import migrate
from services.write.adapters.postgres import PostgresEventStore
from services.write.application.ports import EmailClaim
from services.write.domain.errors import DuplicateEmail
from shared.contracts.events import CustomerRegistered, OrderPlaced
from shared.contracts.personal import is_sealed
from tests.integration.personal import (
    ADDRESS,
    META,
    change_email,
    local_kek,
    place,
    placed,
    register,
    rename,
    stored_text,
)
from tests.stores import event_store


async def test_a_registered_customer_s_row_holds_no_clear_name_or_email(
    store: PostgresEventStore,
) -> None:
    customer = await register(store, "Ann.Secret@Example.com", name="Ann Secret")
    await rename(store, customer, "Ann Hidden")
    text = await stored_text(store, customer)
    for clear in ("Ann Secret", "Ann.Secret", "example.com", "Ann Hidden"):
        assert clear.lower() not in text.lower()
    rows = await store.pool.fetch("SELECT data FROM events WHERE stream_id = $1", customer)
    assert is_sealed(rows[0]["data"]["name"]) and is_sealed(rows[0]["data"]["email"])
    claims = await store.pool.fetch("SELECT email_index FROM customer_emails")
    assert [c["email_index"] for c in claims] == [store.index.email("ann.secret@example.com")]


async def test_an_order_s_address_is_sealed_but_its_country_is_not(
    store: PostgresEventStore,
) -> None:
    customer = await register(store, "bo@example.com")
    order = await place(store, customer)
    text = await stored_text(store, order)
    assert "Secrète" not in text and "Lyon" not in text and "69001" not in text
    assert '"country": "FR"' in text and str(customer) in text
    loaded = await store.load(order)
    assert loaded.events == [placed(customer)]


async def test_load_gives_the_clear_values_back_even_without_the_cache(
    store: PostgresEventStore,
) -> None:
    customer = await register(store, "Cy@Example.com", name="Cy")
    fresh = event_store(store.pool)  # another replica: nothing cached
    loaded = await fresh.load(customer)
    assert loaded.events == [CustomerRegistered(name="Cy", email="Cy@Example.com")]


async def test_the_key_row_unwraps_with_the_kek_for_its_customer_only(
    store: PostgresEventStore,
) -> None:
    customer = await register(store, "di@example.com")
    row = await store.pool.fetchrow(
        "SELECT wrapped, kek_id FROM customer_keys WHERE customer_id = $1", customer
    )
    assert row is not None and row["kek_id"] == "local-1"
    key = await local_kek().unwrap(customer, row["wrapped"])
    assert len(key) == 32
    with pytest.raises(WrongKey):
        await local_kek().unwrap(uuid4(), row["wrapped"])
    with pytest.raises(WrongKey):
        await LocalKeyWrapper(os.urandom(32), "local-1").unwrap(customer, row["wrapped"])


async def test_a_customer_from_before_keys_gets_one_on_first_need(
    store: PostgresEventStore,
) -> None:
    """History written before sealing: clear rows and no key. They still load; the next
    append makes the customer's key, once, and seals under it."""
    customer = uuid4()
    clear = {"name": "Old Timer", "email": "old@example.com"}
    await store.pool.execute(
        "INSERT INTO events (event_id, stream_type, stream_id, version, event_type,"
        " schema_version, data) VALUES ($1, 'customer', $2, 1, 'CustomerRegistered', 1, $3)",
        uuid4(),
        customer,
        clear,
    )
    assert (await store.load(customer)).events == [CustomerRegistered(**clear)]
    order = await place(store, customer)
    await place(event_store(store.pool), customer)  # another replica finds the same key
    assert await store.pool.fetchval("SELECT count(*) FROM customer_keys") == 1
    loaded = await event_store(store.pool).load(order)
    assert isinstance(loaded.events[0], OrderPlaced)
    assert loaded.events[0].shipping_address == ADDRESS


async def test_the_same_email_in_another_case_is_refused_and_released_on_change(
    store: PostgresEventStore,
) -> None:
    first = await register(store, "eve@example.com")
    with pytest.raises(DuplicateEmail):
        await register(store, "EVE@Example.COM")
    await change_email(store, first, "eve@example.com", "eve2@example.com")
    second = await register(store, "Eve@Example.com")  # released by the change
    held = await store.pool.fetch("SELECT email_index, customer_id FROM customer_emails")
    assert {(r["email_index"], r["customer_id"]) for r in held} == {
        (store.index.email("eve2@example.com"), first),
        (store.index.email("eve@example.com"), second),
    }


async def test_clear_claims_are_rewritten_to_their_blind_index_at_start(
    store: PostgresEventStore,
) -> None:
    customer = uuid4()
    await store.pool.execute(
        "INSERT INTO customer_emails (email_index, customer_id) VALUES ('fay@example.com', $1)",
        customer,
    )
    async with store.pool.acquire() as conn:
        await migrate(conn, index=store.index)
        await migrate(conn, index=store.index)  # a second start finds nothing to rewrite
    rows = await store.pool.fetch("SELECT email_index, customer_id FROM customer_emails")
    assert [tuple(r) for r in rows] == [(store.index.email("fay@example.com"), customer)]
    with pytest.raises(DuplicateEmail):
        await register(store, "Fay@example.com")


async def test_keys_of_another_kek_do_not_open(store: PostgresEventStore) -> None:
    """A store given the wrong key-encryption key fails loudly instead of reading garbage."""
    customer = await register(store, "gus@example.com")
    other = event_store(store.pool, new_pii_keys())
    with pytest.raises(WrongKey):
        await other.load(customer)


async def test_a_registration_after_its_customer_s_order_seals_under_the_key_the_order_made(
    store: PostgresEventStore,
) -> None:
    # Appended straight into the store (as an import of history may), an order can come
    # before its customer's registration: it makes the customer's key, which the
    # registration then uses instead of a second one.
    customer = uuid4()
    order = await place(store, customer)
    fresh = event_store(store.pool)  # another replica: its registration makes a new key
    await fresh.append(
        stream_type="customer",
        stream_id=customer,
        expected_version=0,
        events=[CustomerRegistered(name="Di Late", email="di@example.com")],
        metadata=META,
        email=EmailClaim(claim="di@example.com"),
    )
    keys = await store.pool.fetchval(
        "SELECT count(*) FROM customer_keys WHERE customer_id = $1", customer
    )
    assert keys == 1
    for reader in (store, event_store(store.pool)):
        assert (await reader.load(customer)).events == [
            CustomerRegistered(name="Di Late", email="di@example.com")
        ]
        assert (await reader.load(order)).events == [placed(customer)]
    assert "Di Late" not in await stored_text(store, customer)
