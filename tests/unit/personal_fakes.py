"""In-memory doubles of the personal-data ports, over the FakeEventStore's erasure journal."""

import os
import uuid
from collections.abc import Collection
from typing import Any
from uuid import UUID

from services.write.application.ports import (
    Disclosure,
    ErasureReceipt,
    KeyLookup,
    SubjectErased,
)
from shared.contracts.events import CUSTOMER
from shared.contracts.personal import clear_values

from .fakes import FakeEventStore


class FakePersonalData:
    """Keys, receipts and disclosures as the store's journal says; `event` adds an event whose
    personal values can be disclosed, `audit` keeps (event id, actor, outcome) per call."""

    def __init__(self, store: FakeEventStore) -> None:
        self.store = store
        self._keys: dict[UUID, bytes] = {}
        self._events: dict[UUID, tuple[UUID, str, dict[str, Any]]] = {}
        self.audit: list[tuple[UUID, dict[str, str], str]] = []

    def event(self, customer_id: UUID, event_type: str, **data: Any) -> UUID:
        event_id = uuid.uuid4()
        self._events[event_id] = (customer_id, event_type, data)
        return event_id

    async def receipt(self, customer_id: UUID) -> ErasureReceipt | None:
        journaled = self.store.erasures.get(customer_id)
        if journaled is None:
            return None
        request, position = journaled
        return ErasureReceipt(
            customer_id=customer_id,
            erased_at=request.erased_at,
            event_id=uuid.uuid5(customer_id, str(position)),
            position=position,
            fields=request.fields,
            claims_released=self.store.released.get(customer_id, 0),
            requested_by=request.requested_by.get("subject", ""),
        )

    async def key_present(self, customer_id: UUID) -> bool:
        return customer_id in self._live({customer_id})

    async def claims_held(self, customer_id: UUID) -> int:
        return sum(1 for owner in self.store.emails.values() if owner == customer_id)

    async def data_keys(self, customer_ids: Collection[UUID]) -> KeyLookup:
        live = self._live(customer_ids)
        erased = {c for c in customer_ids if c in self.store.erasures}
        keys = {c: self._keys.setdefault(c, os.urandom(32)) for c in live}
        return KeyLookup(keys=keys, erased=erased, unknown=set(customer_ids) - live - erased)

    async def disclose(self, event_id: UUID, actor: dict[str, str]) -> Disclosure | None:
        found = self._events.get(event_id)
        if found is None:
            self.audit.append((event_id, actor, "unknown"))
            return None
        customer_id, event_type, data = found
        if customer_id in self.store.erasures:
            self.audit.append((event_id, actor, "erased"))
            raise SubjectErased(f"customer {customer_id} was erased")
        self.audit.append((event_id, actor, "disclosed"))
        fields = clear_values(data, event_type)
        return Disclosure(event_id, event_type, customer_id, fields)

    def _live(self, customer_ids: Collection[UUID]) -> set[UUID]:
        streams = self.store.streams
        return {
            c
            for c in customer_ids
            if c in streams and streams[c][0] == CUSTOMER and c not in self.store.erasures
        }


class FakeErasureProgress:
    """The read side's view of erasures: `answer` for every customer (None: unavailable)."""

    def __init__(self) -> None:
        self.answer: dict[str, bool] | None = None
        self.asked: list[tuple[UUID, str | None]] = []

    async def projections(
        self, customer_id: UUID, *, credentials: str | None
    ) -> dict[str, bool] | None:
        self.asked.append((customer_id, credentials))
        return None if self.answer is None else dict(self.answer)

    async def close(self) -> None:
        pass
