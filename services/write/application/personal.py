"""Personal data: erasing a customer (crypto-shredding) and its receipt, what holds of it now,
the audited disclosure of an event's personal values, and the data keys the read side opens
them with."""

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from ..domain.errors import ErasedCustomer, NotFound
from .context import CommandContext
from .handlers import CommandHandlers
from .personal_ports import ErasureProgress
from .ports import Disclosure, ErasureReceipt, KeyLookup, PersonalData, SubjectErased

log = logging.getLogger(__name__)


class PersonalDataGone(Exception):
    """The event's personal data was erased with its customer: it can never be disclosed (410)."""


@dataclass(frozen=True)
class ErasureStatus:
    """An erasure's receipt and what holds of it now: no key, no email claimed, and, per
    projection of the read side, whether it applied the erasure (None: the read side could not
    be asked)."""

    receipt: ErasureReceipt
    key_present: bool
    claims_held: int
    projections: dict[str, bool] | None


class PersonalDataHandlers:
    """Erasure, disclosure and data keys; erasures run as commands of `commands`, so that its
    cached customers learn of them."""

    def __init__(
        self,
        commands: CommandHandlers,
        personal: PersonalData,
        read_side: ErasureProgress,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._commands = commands
        self._personal = personal
        self._read_side = read_side
        self._clock = clock

    async def erase_customer(self, customer_id: UUID, ctx: CommandContext) -> ErasureReceipt:
        """Erase the customer (staff, or the customer themselves); erased before: the receipt of
        then. NotFound for an unknown customer, or another customer's."""
        if not ctx.may_act_for(customer_id):  # exists or not: not theirs to know
            raise NotFound(f"customer {customer_id} does not exist")
        receipt = await self._personal.receipt(customer_id)
        if receipt is not None:
            return receipt
        try:
            await self._commands.erase_customer(customer_id, self._clock(), ctx)
        except ErasedCustomer:  # erased meanwhile, by another request: its receipt answers
            pass
        receipt = await self._personal.receipt(customer_id)
        if receipt is None:
            raise ErasedCustomer(f"customer {customer_id} was erased without a journal entry")
        log.info("customer %s erased by %s", customer_id, receipt.requested_by)
        return receipt

    async def erasure_status(self, customer_id: UUID, *, credentials: str | None) -> ErasureStatus:
        """The customer's erasure as it holds now (NotFound when they were not erased); the read
        side is asked with the caller's own `credentials`."""
        receipt = await self._personal.receipt(customer_id)
        if receipt is None:
            raise NotFound(f"customer {customer_id} was not erased")
        return ErasureStatus(
            receipt=receipt,
            key_present=await self._personal.key_present(customer_id),
            claims_held=await self._personal.claims_held(customer_id),
            projections=await self._read_side.projections(customer_id, credentials=credentials),
        )

    async def disclose(self, event_id: UUID, actor: dict[str, str]) -> Disclosure:
        """The event's personal values in clear, audited (NotFound for an unknown event,
        PersonalDataGone once its customer is erased)."""
        try:
            found = await self._personal.disclose(event_id, actor)
        except SubjectErased:
            log.info("personal data of event %s refused to %s: erased", event_id, actor)
            raise PersonalDataGone(f"the personal data of event {event_id} was erased") from None
        if found is None:
            log.info("personal data of event %s asked by %s: no such event", event_id, actor)
            raise NotFound(f"event {event_id} does not exist")
        log.info(
            "personal data of event %s (customer %s) disclosed to %s: fields %s",
            event_id,
            found.customer_id,
            actor,
            sorted(found.fields),
        )
        return found

    async def data_keys(self, customer_ids: Collection[UUID]) -> KeyLookup:
        """The data keys of live customers, and which are erased or unknown; never cached."""
        found = await self._personal.data_keys(set(customer_ids))
        log.info(
            "data keys for %d customers: %d given, %d erased, %d unknown",
            len(customer_ids),
            len(found.keys),
            len(found.erased),
            len(found.unknown),
        )
        return found
