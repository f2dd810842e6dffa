"""The Customer aggregate."""

from uuid import UUID

from shared.contracts.events import (
    CUSTOMER,
    CustomerEmailChanged,
    CustomerRegistered,
    CustomerRenamed,
)

from .aggregate import Aggregate
from .commands import ChangeCustomerEmail, RegisterCustomer, RenameCustomer
from .errors import DomainError


def normalize_email(email: str) -> str:
    """The form emails are compared in: uniqueness is case-insensitive."""
    return email.strip().lower()


class Customer(Aggregate):
    """A registered customer with a name and a unique email."""

    stream_type = CUSTOMER

    name: str = ""
    email: str = ""

    @property
    def owner(self) -> UUID:
        return self.id

    def register(self, command: RegisterCustomer) -> None:
        if self.exists:
            raise DomainError("customer already registered")
        self.record(CustomerRegistered(name=command.name, email=command.email))

    def rename(self, command: RenameCustomer) -> None:
        self.record(CustomerRenamed(name=command.name))

    def change_email(self, command: ChangeCustomerEmail) -> None:
        self.record(CustomerEmailChanged(old_email=self.email, new_email=command.email))

    def _on_CustomerRegistered(self, event: CustomerRegistered) -> None:
        self.name, self.email = event.name, event.email

    def _on_CustomerRenamed(self, event: CustomerRenamed) -> None:
        self.name = event.name

    def _on_CustomerEmailChanged(self, event: CustomerEmailChanged) -> None:
        self.email = event.new_email
