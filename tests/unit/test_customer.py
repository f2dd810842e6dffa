from uuid import uuid4

import pytest
from pydantic import ValidationError

from services.write.domain.commands import ChangeCustomerEmail, RegisterCustomer, RenameCustomer
from services.write.domain.customer import Customer, normalize_email
from services.write.domain.errors import DomainError
from shared.contracts.events import CustomerEmailChanged


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
