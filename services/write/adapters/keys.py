"""Customers' data keys in memory: wrapped by the local key-encryption key, and kept unwrapped
for a bounded time in a bounded cache."""

import os
import time
from collections import OrderedDict
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE = 12
# What a wrapped key is bound to: the scheme and its customer, so that it cannot be moved.
_CONTEXT = b"ordering.customer-key.v1|"


class WrongKey(Exception):
    """A wrapped data key that does not unwrap: another KEK, another customer, or tampered."""


class LocalKeyWrapper:
    """The KeyWrapper over a key-encryption key from the settings: AES-256-GCM, a fresh nonce
    per key, the customer id as associated data (stored as nonce || ciphertext+tag)."""

    def __init__(self, kek: bytes, kek_id: str) -> None:
        self._kek = AESGCM(kek)
        self._kek_id = kek_id

    @property
    def kek_id(self) -> str:
        return self._kek_id

    async def wrap(self, customer_id: UUID, key: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._kek.encrypt(nonce, key, _bound(customer_id))

    async def unwrap(self, customer_id: UUID, wrapped: bytes) -> bytes:
        try:
            return self._kek.decrypt(wrapped[:_NONCE], wrapped[_NONCE:], _bound(customer_id))
        except (InvalidTag, ValueError) as exc:
            raise WrongKey(f"the data key of customer {customer_id} does not unwrap") from exc


def _bound(customer_id: UUID) -> bytes:
    return _CONTEXT + str(customer_id).encode()


class KeyCache:
    """Unwrapped data keys, as ciphers, for `seconds` at most and `size` customers at most
    (the least recently used go first): an erased customer's key leaves memory by then."""

    def __init__(self, *, seconds: float, size: int) -> None:
        self._seconds = seconds
        self._size = max(1, size)
        self._entries: OrderedDict[UUID, tuple[AESGCM, float]] = OrderedDict()

    def get(self, customer_id: UUID) -> AESGCM | None:
        entry = self._entries.get(customer_id)
        if entry is None:
            return None
        if entry[1] <= time.monotonic():
            del self._entries[customer_id]
            return None
        self._entries.move_to_end(customer_id)
        return entry[0]

    def put(self, customer_id: UUID, cipher: AESGCM) -> None:
        if self._seconds <= 0:
            return
        self._entries[customer_id] = (cipher, time.monotonic() + self._seconds)
        self._entries.move_to_end(customer_id)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def forget(self, customer_id: UUID) -> None:
        self._entries.pop(customer_id, None)

    def __len__(self) -> int:
        return len(self._entries)
