"""Personal data between events and stored rows: sealed under each customer's data key on the
way in (with the event's own id), opened on the way out. The one mapper of the event store
calls it, so that the row, the Kafka record, `/events` and dead letters only hold ciphertext.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.contracts.events import CUSTOMER, DomainEvent
from shared.contracts.personal import (
    SEALED_EVENT_TYPES,
    any_sealed,
    personal_paths,
    seal,
    subject_of,
    unseal,
)
from shared.contracts.serialization import EventSerializer

from .customer_keys import CustomerKeys, NewKey


@dataclass
class SealedEvents:
    """The rows of one append: data as JSON text, the customers whose data they hold (the
    INSERT's guard), and the key made for a customer registering with them."""

    data: list[str]
    subjects: list[UUID]
    new_key: tuple[UUID, NewKey] | None = None


class Sealing:
    """Seals the personal values of events being appended, opens those of events loaded."""

    def __init__(self, keys: CustomerKeys, serializer: EventSerializer) -> None:
        self.keys = keys
        self._serializer = serializer

    async def seal(
        self,
        *,
        stream_type: str,
        stream_id: UUID,
        expected_version: int,
        events: Sequence[DomainEvent],
        event_ids: Sequence[UUID],
        registering: bool = True,
    ) -> SealedEvents:
        """A registration (a customer stream's first events) gets a new key, inserted with
        them (unless not `registering`: the customer has a key already); any other append
        seals under the customer's key (cached, or looked up)."""
        sealed = SealedEvents(data=[], subjects=[])
        registering = registering and stream_type == CUSTOMER and expected_version == 0
        for event, event_id in zip(events, event_ids, strict=True):
            event_type, data = event.event_type(), self._serializer.to_data(event)
            subject = _subject(event_type, stream_type, stream_id, data)
            if subject is not None:
                cipher = await self._cipher(sealed, subject, registering)
                data = seal(data, event_type, cipher, subject=subject, event_id=event_id)
                if subject not in sealed.subjects:
                    sealed.subjects.append(subject)
            sealed.data.append(orjson.dumps(data).decode())
        return sealed

    async def _cipher(self, sealed: SealedEvents, subject: UUID, registering: bool) -> AESGCM:
        if sealed.new_key is not None and sealed.new_key[0] == subject:
            return sealed.new_key[1].cipher
        if registering:
            new = await self.keys.new_key(subject)
            sealed.new_key = (subject, new)
            return new.cipher
        return await self.keys.for_append(subject)

    async def open(
        self, stream_type: str, stream_id: UUID, rows: Sequence[asyncpg.Record]
    ) -> list[DomainEvent]:
        """Events from their rows (event_id, event_type, schema_version, data), opened under
        their customer's key; an erased customer's values are None, the events built from
        their sealed form without validating those fields (so aggregates still fold)."""
        subjects = {
            row["event_id"]: _subject(row["event_type"], stream_type, stream_id, row["data"])
            for row in rows
            if personal_paths(row["event_type"])
        }
        wanted = {subject for subject in subjects.values() if subject is not None}
        ciphers = await self.keys.ciphers(wanted) if wanted else {}
        decode = self._serializer.from_data
        events = []
        for row in rows:
            event_type, data = row["event_type"], row["data"]
            subject = subjects.get(row["event_id"])
            if subject is None:
                events.append(decode(event_type, row["schema_version"], data))
                continue
            cipher = ciphers.get(subject)
            opened = unseal(data, event_type, cipher, subject=subject, event_id=row["event_id"])
            if cipher is None and any_sealed(data, event_type):
                events.append(blanked(event_type, data, opened))
            else:
                events.append(decode(event_type, row["schema_version"], opened))
        return events


def _subject(
    event_type: str, stream_type: str, stream_id: UUID, data: Mapping[str, Any]
) -> UUID | None:
    if stream_type == CUSTOMER:  # no need to parse the id back (the hot path comes this way)
        return stream_id if personal_paths(event_type) else None
    subject = subject_of(event_type, stream_type, stream_id, data)
    return None if subject is None else UUID(subject)


def blanked(event_type: str, data: Mapping[str, Any], opened: Mapping[str, Any]) -> DomainEvent:
    """An event whose sealed values cannot be opened any more: validated in its sealed form
    (every other field checked as usual), then given the values `unseal` left (None where
    sealed, clear values written before sealing as they were)."""
    event = SEALED_EVENT_TYPES[event_type].model_validate(data)
    update: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for path in personal_paths(event_type):
        head, _, tail = path.partition(".")
        if tail:
            nested.setdefault(head, {})[tail] = opened[head][tail]
        else:
            update[head] = opened[head]
    for head, values in nested.items():
        update[head] = getattr(event, head).model_copy(update=values)
    return event.model_copy(update=update)
