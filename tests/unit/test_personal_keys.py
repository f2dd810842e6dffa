"""Data keys wrapped by the local key-encryption key, and the bounded cache of unwrapped ones."""

import os
from types import SimpleNamespace
from uuid import uuid4

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.write.adapters import keys
from services.write.adapters.blind_index import BlindIndex
from services.write.adapters.keys import KeyCache, LocalKeyWrapper, WrongKey


async def test_a_wrapped_key_unwraps_with_its_kek_for_its_customer_only() -> None:
    kek, customer, data_key = os.urandom(32), uuid4(), os.urandom(32)
    wrapper = LocalKeyWrapper(kek, "local-1")
    wrapped = await wrapper.wrap(customer, data_key)
    assert data_key not in wrapped and len(wrapped) == 12 + 32 + 16
    assert await wrapper.unwrap(customer, wrapped) == data_key
    with pytest.raises(WrongKey):  # moved to another customer
        await wrapper.unwrap(uuid4(), wrapped)
    with pytest.raises(WrongKey):  # another key-encryption key
        await LocalKeyWrapper(os.urandom(32), "local-2").unwrap(customer, wrapped)
    with pytest.raises(WrongKey):
        await wrapper.unwrap(customer, wrapped[:-1] + bytes([wrapped[-1] ^ 1]))


def test_the_cache_keeps_a_key_for_its_time_only(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(keys, "time", SimpleNamespace(monotonic=lambda: now[0]))
    cache, customer, cipher = KeyCache(seconds=300, size=10), uuid4(), AESGCM(os.urandom(32))
    cache.put(customer, cipher)
    now[0] += 299
    assert cache.get(customer) is cipher
    now[0] += 1
    assert cache.get(customer) is None and len(cache) == 0


def test_the_cache_is_bounded_and_forgets_on_demand() -> None:
    cache = KeyCache(seconds=300, size=2)
    first, second, third = uuid4(), uuid4(), uuid4()
    for customer in (first, second):
        cache.put(customer, AESGCM(os.urandom(32)))
    assert cache.get(first) is not None  # now the most recently used
    cache.put(third, AESGCM(os.urandom(32)))
    assert cache.get(second) is None and cache.get(first) is not None
    cache.forget(first)
    assert cache.get(first) is None and len(cache) == 1


def test_a_cache_of_no_seconds_keeps_nothing() -> None:
    cache, customer = KeyCache(seconds=0, size=10), uuid4()
    cache.put(customer, AESGCM(os.urandom(32)))
    assert cache.get(customer) is None


def test_the_blind_index_of_an_email_is_keyed_and_ignores_case() -> None:
    key = os.urandom(32)
    index = BlindIndex(key)
    assert index.email("Ann@Example.com ") == index.email("ann@example.com")
    assert index.email("ann@example.com") != BlindIndex(os.urandom(32)).email("ann@example.com")
    assert "@" not in index.email("ann@example.com") and len(index.email("a@b.c")) == 64
