"""The sealed form of personal data: what is sealed, what it is bound to, what erasure leaves."""

import uuid
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.contracts.events import CUSTOMER_REGISTERED, ORDER_PLACED, ORDER_SHIPPED
from shared.contracts.personal import (
    SEALED_EVENT_TYPES,
    Unreadable,
    is_sealed,
    new_data_key,
    seal,
    subject_of,
    unseal,
)

CUSTOMER, EVENT = uuid.uuid4(), uuid.uuid4()
PLACED: dict[str, Any] = {
    "customer_id": str(CUSTOMER),
    "items": [{"sku": "A-1", "name": "Kettle", "quantity": 1, "unit_price": "9.50"}],
    "shipping_address": {
        "line1": "1 Canary Row",
        "city": "Oslo",
        "postal_code": "0150",
        "country": "NO",
    },
    "currency": "EUR",
    "total": "9.50",
}


def cipher() -> AESGCM:
    return AESGCM(new_data_key())


def test_the_personal_fields_are_sealed_and_the_rest_stays_clear() -> None:
    sealed = seal(PLACED, ORDER_PLACED, cipher(), subject=CUSTOMER, event_id=EVENT)
    address = sealed["shipping_address"]
    assert all(is_sealed(address[f]) for f in ("line1", "city", "postal_code"))
    assert address["country"] == "NO" and sealed["items"] == PLACED["items"]
    assert "Canary" not in str(sealed)
    assert PLACED["shipping_address"]["line1"] == "1 Canary Row"  # the input is left alone
    SEALED_EVENT_TYPES[ORDER_PLACED].model_validate(sealed)


def test_a_sealed_value_opens_only_where_it_was_sealed() -> None:
    key = cipher()
    sealed = seal(
        {"name": "Ann", "email": "a@b.io"},
        CUSTOMER_REGISTERED,
        key,
        subject=CUSTOMER,
        event_id=EVENT,
    )
    assert unseal(sealed, CUSTOMER_REGISTERED, key, subject=CUSTOMER, event_id=EVENT) == {
        "name": "Ann",
        "email": "a@b.io",
    }
    with pytest.raises(Unreadable):  # moved to another event
        unseal(sealed, CUSTOMER_REGISTERED, key, subject=CUSTOMER, event_id=uuid.uuid4())
    with pytest.raises(Unreadable):  # moved to another customer
        unseal(sealed, CUSTOMER_REGISTERED, key, subject=uuid.uuid4(), event_id=EVENT)
    moved = {"name": sealed["email"], "email": sealed["name"]}
    with pytest.raises(Unreadable):  # moved to another field
        unseal(moved, CUSTOMER_REGISTERED, key, subject=CUSTOMER, event_id=EVENT)
    with pytest.raises(Unreadable):  # another key
        unseal(sealed, CUSTOMER_REGISTERED, cipher(), subject=CUSTOMER, event_id=EVENT)


def test_an_address_opens_whole_and_the_sealed_data_is_left_alone() -> None:
    key = cipher()
    sealed = seal(PLACED, ORDER_PLACED, key, subject=CUSTOMER, event_id=EVENT)
    sealed_address = dict(sealed["shipping_address"])
    assert unseal(sealed, ORDER_PLACED, key, subject=CUSTOMER, event_id=EVENT) == PLACED
    assert sealed["shipping_address"] == sealed_address  # still sealed, field by field
    assert all(is_sealed(sealed_address[f]) for f in ("line1", "city", "postal_code"))


def test_without_the_key_the_values_are_gone_and_clear_ones_written_before_stay() -> None:
    sealed = seal(PLACED, ORDER_PLACED, cipher(), subject=CUSTOMER, event_id=EVENT)
    erased = unseal(sealed, ORDER_PLACED, None, subject=CUSTOMER, event_id=EVENT)
    assert erased["shipping_address"] == {
        "line1": None,
        "city": None,
        "postal_code": None,
        "country": "NO",
    }
    assert unseal(PLACED, ORDER_PLACED, None, subject=CUSTOMER, event_id=EVENT) == PLACED


def test_whose_data_an_event_holds() -> None:
    assert subject_of(CUSTOMER_REGISTERED, "customer", CUSTOMER, {}) == str(CUSTOMER)
    assert subject_of(ORDER_PLACED, "order", uuid.uuid4(), PLACED) == str(CUSTOMER)
    assert subject_of(ORDER_SHIPPED, "order", uuid.uuid4(), {}) is None
