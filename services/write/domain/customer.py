"""The Customer aggregate."""

from datetime import datetime
from uuid import UUID

from shared.contracts.events import (
    CUSTOMER,
    CustomerEmailChanged,
    CustomerErased,
    CustomerRegistered,
    CustomerRenamed,
)
from shared.contracts.personal import ERASED_FIELDS

from .aggregate import Aggregate
from .commands import ChangeCustomerEmail, RegisterCustomer, RenameCustomer
from .errors import DomainError, ErasedCustomer


def normalize_email(email: str) -> str:
    """The form emails are compared in: uniqueness is case-insensitive."""
    return email.strip().lower()


class Customer(Aggregate):
    """A registered customer with a name and a unique email, until they are erased."""

    stream_type = CUSTOMER

    name: str = ""
    email: str = ""
    erased_at: datetime | None = None

    @property
    def owner(self) -> UUID:
        return self.id

    @property
    def erased(self) -> bool:
        """Forgotten: nothing personal is recorded for this customer again."""
        return self.erased_at is not None

    def register(self, command: RegisterCustomer) -> None:
        if self.exists:
            raise DomainError("customer already registered")
        self.record(CustomerRegistered(name=command.name, email=command.email))

    def rename(self, command: RenameCustomer) -> None:
        self._refuse_if_erased()
        self.record(CustomerRenamed(name=command.name))

    def change_email(self, command: ChangeCustomerEmail) -> None:
        self._refuse_if_erased()
        self.record(CustomerEmailChanged(old_email=self.email, new_email=command.email))

    def erase(self, erased_at: datetime) -> None:
        """Forget the customer: their personal data becomes unreadable everywhere."""
        self._refuse_if_erased()
        self.record(CustomerErased(erased_at=erased_at, fields=list(ERASED_FIELDS)))

    def _refuse_if_erased(self) -> None:
        if self.erased:
            raise ErasedCustomer(f"customer {self.id} was erased")

    def _on_CustomerRegistered(self, event: CustomerRegistered) -> None:
        self.name, self.email = event.name, event.email

    def _on_CustomerRenamed(self, event: CustomerRenamed) -> None:
        self.name = event.name

    def _on_CustomerEmailChanged(self, event: CustomerEmailChanged) -> None:
        self.email = event.new_email

    def _on_CustomerErased(self, event: CustomerErased) -> None:
        # What the erased events held is gone (their values load as None): keep none of it.
        self.name, self.email, self.erased_at = "", "", event.erased_at
