"""The PersonalData adapter on the real database: receipts from the journal, what still holds,
data keys for the read side, and disclosures, each audited without its values."""

from uuid import UUID, uuid4

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.write.adapters.personal_data import PostgresPersonalData
from services.write.adapters.postgres import PostgresEventStore
from services.write.application.ports import SubjectErased
from shared.contracts.personal import ERASED_FIELDS, associated_data, open_value
from tests.integration.personal import erase, place, register

ACTOR = {"subject": "auditor", "client_id": "back-office"}


@pytest.fixture
def personal(store: PostgresEventStore) -> PostgresPersonalData:
    return PostgresPersonalData(store.pool, store.keys)


async def event_id_of(store: PostgresEventStore, stream_id: UUID, version: int = 1) -> UUID:
    value = await store.pool.fetchval(
        "SELECT event_id FROM events WHERE stream_id = $1 AND version = $2", stream_id, version
    )
    assert isinstance(value, UUID)
    return value


async def test_the_receipt_and_what_holds_before_and_after_an_erasure(
    store: PostgresEventStore, personal: PostgresPersonalData
) -> None:
    customer = await register(store, "ned@example.com")
    assert await personal.receipt(customer) is None
    assert await personal.key_present(customer) and await personal.claims_held(customer) == 1
    erased = await erase(store, customer, version=1)
    receipt = await personal.receipt(customer)
    assert receipt is not None
    assert (receipt.customer_id, receipt.position) == (customer, erased.position)
    assert receipt.event_id == await event_id_of(store, customer, 2)
    assert receipt.fields == ERASED_FIELDS and receipt.claims_released == 1
    assert receipt.requested_by == "operator" and receipt.key_destroyed
    assert not await personal.key_present(customer)
    assert await personal.claims_held(customer) == 0


async def test_data_keys_tell_live_erased_and_unknown_customers_apart(
    store: PostgresEventStore, personal: PostgresPersonalData
) -> None:
    live, gone, nobody = (
        await register(store, "oz@example.com"),
        await register(store, "pat@example.com"),
        uuid4(),
    )
    await erase(store, gone, version=1)
    lookup = await personal.data_keys([live, gone, nobody])
    assert set(lookup.keys) == {live} and lookup.erased == {gone} and lookup.unknown == {nobody}
    row = await store.pool.fetchrow("SELECT event_id, data FROM events WHERE stream_id = $1", live)
    assert row is not None
    aad = associated_data(live, row["event_id"], "email")
    assert open_value(AESGCM(lookup.keys[live]), row["data"]["email"], aad) == "oz@example.com"


async def test_a_disclosure_opens_an_event_and_audits_the_field_names_only(
    store: PostgresEventStore, personal: PostgresPersonalData
) -> None:
    customer = await register(store, "Quinn@Example.com", name="Quinn Secret")
    order = await place(store, customer)
    registered = await personal.disclose(await event_id_of(store, customer), ACTOR)
    assert registered is not None and registered.customer_id == customer
    assert registered.event_type == "CustomerRegistered"
    assert registered.fields == {"name": "Quinn Secret", "email": "Quinn@Example.com"}
    placed = await personal.disclose(await event_id_of(store, order), ACTOR)
    assert placed is not None and placed.customer_id == customer
    assert placed.fields == {
        "shipping_address.line1": "1 Rue Secrète",
        "shipping_address.city": "Lyon",
        "shipping_address.postal_code": "69001",
    }
    audit = await store.pool.fetch("SELECT * FROM personal_data_disclosures ORDER BY at")
    assert [(r["customer_id"], r["outcome"], r["actor"]) for r in audit] == [
        (customer, "disclosed", ACTOR),
        (customer, "disclosed", ACTOR),
    ]
    assert audit[0]["fields"] == ["name", "email"]
    text = await store.pool.fetchval(
        "SELECT string_agg(t::text, ' ') FROM personal_data_disclosures t"
    )
    assert "Quinn" not in text and "Lyon" not in text


async def test_no_disclosure_once_erased_nor_for_an_unknown_event_and_both_are_audited(
    store: PostgresEventStore, personal: PostgresPersonalData
) -> None:
    customer = await register(store, "rae@example.com")
    registered = await event_id_of(store, customer)
    await erase(store, customer, version=1)
    with pytest.raises(SubjectErased):
        await personal.disclose(registered, ACTOR)
    erasure = await personal.disclose(await event_id_of(store, customer, 2), ACTOR)
    assert erasure is not None and erasure.fields == {}  # CustomerErased holds none
    unknown = uuid4()
    assert await personal.disclose(unknown, ACTOR) is None
    audit = await store.pool.fetch(
        "SELECT event_id, outcome FROM personal_data_disclosures ORDER BY at"
    )
    assert [r["outcome"] for r in audit] == ["erased", "disclosed", "no-such-event"]
    assert audit[0]["event_id"] == registered and audit[2]["event_id"] == unknown
