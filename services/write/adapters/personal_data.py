"""PersonalData over PostgreSQL: the erasure journal, what still holds of a customer, data keys
for the read side, and audited disclosures of one event's personal values."""

from collections.abc import Collection
from typing import Any
from uuid import UUID

import asyncpg
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.contracts.personal import clear_values, personal_paths, subject_of, unseal

from ..application.ports import Disclosure, ErasureReceipt, KeyLookup, SubjectErased
from .customer_keys import CustomerKeys
from .event_log import postgres_call

_RECEIPT = """
SELECT customer_id, event_id, position, erased_at, requested_by, fields, claims_released
FROM customer_erasures WHERE customer_id = $1
"""
_EVENT = "SELECT event_id, stream_type, stream_id, event_type, data FROM events WHERE event_id = $1"
_AUDIT = """
INSERT INTO personal_data_disclosures (actor, customer_id, event_id, fields, outcome)
VALUES ($1, $2, $3, $4::text[], $5)
"""
# The outcomes the audit records.
DISCLOSED, ERASED, NO_SUCH_EVENT = "disclosed", "erased", "no-such-event"


class PostgresPersonalData:
    """The PersonalData port over the pool the event store uses, with its keys (every lookup
    here reads the tables: nothing answered from the cache)."""

    def __init__(self, pool: asyncpg.Pool, keys: CustomerKeys) -> None:
        self._pool = pool
        self._keys = keys

    @postgres_call
    async def receipt(self, customer_id: UUID) -> ErasureReceipt | None:
        row = await self._pool.fetchrow(_RECEIPT, customer_id)
        if row is None:
            return None
        return ErasureReceipt(
            customer_id=row["customer_id"],
            erased_at=row["erased_at"],
            event_id=row["event_id"],
            position=row["position"],
            fields=tuple(row["fields"]),
            claims_released=row["claims_released"],
            requested_by=str((row["requested_by"] or {}).get("subject", "")),
        )

    @postgres_call
    async def key_present(self, customer_id: UUID) -> bool:
        """Whether the table holds a key row for the customer (journal or not: the truth)."""
        sql = "SELECT EXISTS (SELECT 1 FROM customer_keys WHERE customer_id = $1)"
        return bool(await self._pool.fetchval(sql, customer_id))

    @postgres_call
    async def claims_held(self, customer_id: UUID) -> int:
        sql = "SELECT count(*) FROM customer_emails WHERE customer_id = $1"
        return int(await self._pool.fetchval(sql, customer_id))

    @postgres_call
    async def data_keys(self, customer_ids: Collection[UUID]) -> KeyLookup:
        found = await self._keys.lookup(customer_ids)
        lookup = KeyLookup(keys={}, erased=set(), unknown=set())
        for customer, row in found.items():
            if row.erased:
                lookup.erased.add(customer)
            elif row.wrapped is None:
                lookup.unknown.add(customer)
            else:
                lookup.keys[customer] = await self._keys.unwrap(customer, row.wrapped)
        return lookup

    @postgres_call
    async def disclose(self, event_id: UUID, actor: dict[str, str]) -> Disclosure | None:
        row = await self._pool.fetchrow(_EVENT, event_id)
        if row is None:
            await self._audit(actor, None, event_id, (), NO_SUCH_EVENT)
            return None
        event_type, data = row["event_type"], row["data"]
        paths = personal_paths(event_type)
        subject = subject_of(event_type, row["stream_type"], row["stream_id"], data)
        customer = None if subject is None else UUID(subject)
        if customer is None:  # no personal data in this event: nothing to open
            await self._audit(actor, None, event_id, paths, DISCLOSED)
            return Disclosure(event_id, event_type, None, {})
        found = (await self._keys.lookup([customer]))[customer]
        if found.erased:
            await self._audit(actor, customer, event_id, paths, ERASED)
            raise SubjectErased(f"customer {customer} was erased")
        # no key: history from before keys, never sealed, is opened as the clear it is
        cipher = None
        if found.wrapped is not None:
            cipher = AESGCM(await self._keys.unwrap(customer, found.wrapped))
        opened = unseal(data, event_type, cipher, subject=customer, event_id=event_id)
        await self._audit(actor, customer, event_id, paths, DISCLOSED)
        return Disclosure(event_id, event_type, customer, _values(opened, event_type))

    async def _audit(
        self,
        actor: dict[str, str],
        customer: UUID | None,
        event_id: UUID,
        paths: Collection[str],
        outcome: str,
    ) -> None:
        await self._pool.execute(_AUDIT, actor, customer, event_id, list(paths), outcome)


def _values(opened: dict[str, Any], event_type: str) -> dict[str, str | None]:
    return {
        path: None if value is None else str(value)
        for path, value in clear_values(opened, event_type).items()
    }
