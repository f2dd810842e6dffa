"""The customer_keys table behind a cache: data keys found, unwrapped and kept for a while, or
made on first need. Every lookup checks the erasure journal too, so a key row that outlived
its customer's erasure (a table restored from a backup) opens nothing."""

from collections.abc import Collection
from dataclasses import dataclass
from uuid import UUID

import asyncpg
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.contracts.personal import new_data_key

from ..application.ports import KeyWrapper, SubjectErased
from .keys import KeyCache
from .migrations_pii import ERASED_KEY_REFUSED

_LOOKUP = """
SELECT c.id AS customer_id, k.wrapped, e.customer_id IS NOT NULL AS erased
FROM unnest($1::uuid[]) AS c(id)
LEFT JOIN customer_erasures e ON e.customer_id = c.id
LEFT JOIN customer_keys k ON k.customer_id = c.id AND e.customer_id IS NULL
"""
# A key for a customer who has none (history from before keys): the first replica's wins. The
# table's trigger refuses it for an erased customer. A key another transaction commits while
# this one waits is not in this statement's snapshot: nothing comes back, and the caller asks
# again.
_CREATE = """
WITH made AS (
    INSERT INTO customer_keys (customer_id, wrapped, kek_id) VALUES ($1, $2, $3)
    ON CONFLICT (customer_id) DO NOTHING
    RETURNING wrapped
)
SELECT wrapped FROM made
UNION ALL
SELECT k.wrapped FROM customer_keys k
WHERE k.customer_id = $1
  AND NOT EXISTS (SELECT 1 FROM customer_erasures e WHERE e.customer_id = $1)
LIMIT 1
"""


@dataclass(frozen=True)
class Found:
    """What the tables hold for one customer: the wrapped key (None: none, or erased)."""

    wrapped: bytes | None
    erased: bool


@dataclass(frozen=True)
class NewKey:
    """A data key made for a registration: its cipher, and the key wrapped for the table."""

    cipher: AESGCM
    wrapped: bytes
    kek_id: str


def key_made_already(exc: asyncpg.UniqueViolationError) -> bool:
    """A registration's key collided with one made on demand before it (an order of the
    customer appended before their registration, as a history import may)."""
    return getattr(exc, "constraint_name", None) == "customer_keys_pkey"


def refused_as_erased(exc: asyncpg.CheckViolationError) -> bool:
    """The trigger of customer_keys refused a key for an erased customer."""
    return getattr(exc, "constraint_name", None) == ERASED_KEY_REFUSED


class CustomerKeys:
    """Customers' data keys: the table, the key-encryption key that wraps them, the cache."""

    def __init__(self, pool: asyncpg.Pool, wrapper: KeyWrapper, cache: KeyCache) -> None:
        self._pool = pool
        self._wrapper = wrapper
        self._cache = cache

    def cached(self, customer_id: UUID) -> AESGCM | None:
        return self._cache.get(customer_id)

    def forget(self, customer_id: UUID) -> None:
        self._cache.forget(customer_id)

    def keep(self, customer_id: UUID, cipher: AESGCM) -> None:
        self._cache.put(customer_id, cipher)

    async def lookup(self, customer_ids: Collection[UUID]) -> dict[UUID, Found]:
        """The tables' answer for each customer, read now (never from the cache)."""
        rows = await self._pool.fetch(_LOOKUP, list(set(customer_ids)))
        return {r["customer_id"]: Found(r["wrapped"], r["erased"]) for r in rows}

    async def unwrap(self, customer_id: UUID, wrapped: bytes) -> bytes:
        return await self._wrapper.unwrap(customer_id, wrapped)

    async def ciphers(self, customer_ids: Collection[UUID]) -> dict[UUID, AESGCM | None]:
        """Each customer's cipher; None for an erased customer or one without a key."""
        found: dict[UUID, AESGCM | None] = {}
        missing = []
        for customer in set(customer_ids):
            cipher = self._cache.get(customer)
            if cipher is None:
                missing.append(customer)
            found[customer] = cipher
        if missing:
            for customer, row in (await self.lookup(missing)).items():
                if row.wrapped is not None:
                    found[customer] = await self._open(customer, row.wrapped)
        return found

    async def for_append(self, customer_id: UUID) -> AESGCM:
        """The cipher to seal a customer's new data with: SubjectErased once they are erased;
        for a customer without a key yet, one made now (fenced by the journal)."""
        cipher = self._cache.get(customer_id)
        if cipher is not None:
            return cipher
        row = (await self.lookup([customer_id]))[customer_id]
        if row.erased:
            raise SubjectErased(f"customer {customer_id} was erased")
        wrapped = row.wrapped
        for _ in range(3):
            if wrapped is None:
                wrapped = await self._create(customer_id)
            if wrapped is not None:
                return await self._open(customer_id, wrapped)
        # a key exists that the journal hides: the customer was erased meanwhile
        raise SubjectErased(f"customer {customer_id} was erased")

    async def new_key(self, customer_id: UUID) -> NewKey:
        """A fresh data key for a customer registering, to be inserted with their first event
        (and cached once that committed)."""
        key = new_data_key()
        wrapped = await self._wrapper.wrap(customer_id, key)
        return NewKey(AESGCM(key), wrapped, self._wrapper.kek_id)

    async def _create(self, customer_id: UUID) -> bytes | None:
        wrapped = await self._wrapper.wrap(customer_id, new_data_key())
        try:
            value = await self._pool.fetchval(_CREATE, customer_id, wrapped, self._wrapper.kek_id)
        except asyncpg.CheckViolationError as exc:
            if refused_as_erased(exc):
                raise SubjectErased(f"customer {customer_id} was erased") from None
            raise
        return None if value is None else bytes(value)

    async def _open(self, customer_id: UUID, wrapped: bytes) -> AESGCM:
        cipher = AESGCM(await self._wrapper.unwrap(customer_id, wrapped))
        self._cache.put(customer_id, cipher)
        return cipher
