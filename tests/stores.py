"""Event stores for tests over a database of their own, sealing personal data as the service
does: with this test process's keys, or with those of a service a test started."""

from collections.abc import Mapping
from typing import Any

import asyncpg

from services.write.adapters.postgres import PostgresEventStore
from services.write.bootstrap import Sealed, sealed_by
from services.write.settings import WriteSettings
from tests.auth import pii_settings

# One set for the whole test process: every store over one database opens what another sealed.
TEST_KEYS = pii_settings()


def store_settings(env: Mapping[str, str] | None = None) -> WriteSettings:
    """Settings with this process's keys, or the keys of a service's environment `env`."""
    keys = TEST_KEYS
    if env is not None:
        keys = {"pii_kek": env["PII_KEK"], "pii_index_key": env["PII_INDEX_KEY"]}
    return WriteSettings(auth_disabled=True, **keys)


def sealed(pool: asyncpg.Pool, env: Mapping[str, str] | None = None) -> Sealed:
    """The keys and index of a store over `pool` (for stores built by a subclass)."""
    return sealed_by(pool, store_settings(env))


def event_store(
    pool: asyncpg.Pool, env: Mapping[str, str] | None = None, **options: Any
) -> PostgresEventStore:
    return PostgresEventStore(pool, **sealed(pool, env), **options)
