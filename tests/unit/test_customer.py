from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from pydantic import ValidationError

from services.write.domain.commands import ChangeCustomerEmail, RegisterCustomer, RenameCustomer
from services.write.domain.customer import Customer, normalize_email
from services.write.domain.errors import DomainError, ErasedCustomer
from shared.contracts.events import CustomerEmailChanged, CustomerErased, CustomerRegistered
from shared.contracts.personal import ERASED_FIELDS


def test_register_rename_change_email() -> None:
    customer = Customer(uuid4())
    customer.register(RegisterCustomer(name="Ada", email="Ada@Example.com"))
    customer.rename(RenameCustomer(name="Ada L."))
    customer.change_email(ChangeCustomerEmail(email="ada@new.example"))
    changed = customer.pending[-1]
    assert isinstance(changed, CustomerEmailChanged)
    assert (changed.old_email, changed.new_email) == ("Ada@Example.com", "ada@new.example")
    assert (customer.name, customer.version) == ("Ada L.", 3)


def test_register_twice_is_refused() -> None:
    customer = Customer(uuid4())
    customer.register(RegisterCustomer(name="Ada", email="ada@example.com"))
    with pytest.raises(DomainError):
        customer.register(RegisterCustomer(name="Ada", email="ada@example.com"))


@pytest.mark.parametrize("email", ["", "no-at-sign", "a@b", "two@@example.com"])
def test_invalid_emails_are_refused(email: str) -> None:
    with pytest.raises(ValidationError):
        RegisterCustomer(name="Ada", email=email)


def test_emails_compare_case_insensitively() -> None:
    assert normalize_email(" Ada@Example.COM ") == "ada@example.com"


def test_an_erased_customer_records_what_was_erased_and_refuses_what_would_be_personal() -> None:
    customer = Customer(uuid4())
    customer.register(RegisterCustomer(name="Ada", email="ada@example.com"))
    erased_at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    customer.erase(erased_at)
    erased = customer.pending[-1]
    assert isinstance(erased, CustomerErased)
    assert (erased.erased_at, tuple(erased.fields)) == (erased_at, ERASED_FIELDS)
    assert customer.erased and (customer.name, customer.email) == ("", "")
    with pytest.raises(ErasedCustomer):
        customer.rename(RenameCustomer(name="Bo"))
    with pytest.raises(ErasedCustomer):
        customer.change_email(ChangeCustomerEmail(email="bo@example.com"))
    with pytest.raises(ErasedCustomer):
        customer.erase(erased_at)
    assert customer.version == 2


def test_an_erased_history_folds_with_its_values_gone() -> None:
    # how the store loads an erased customer's events: built without validation, values None
    gone: dict[str, Any] = {"name": None, "email": None}
    registered = CustomerRegistered.model_construct(**gone)
    erased = CustomerErased(erased_at=datetime.now(UTC), fields=list(ERASED_FIELDS))
    customer = Customer.rehydrate(uuid4(), [registered, erased])
    assert customer.erased and customer.version == 2
