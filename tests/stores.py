"""Event stores for tests over a database of their own, sealing personal data as the service
does: with this test process's keys, or with those of a service a test started."""

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

import asyncpg

from services.write.adapters.postgres import PostgresEventStore
from services.write.bootstrap import Sealed, sealed_by
from services.write.settings import WriteSettings
from shared.contracts.personal import personal_paths, subject_of, unseal
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


async def opened_data(
    pool: asyncpg.Pool, rows: Sequence[Mapping[str, Any]], env: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """The data of event rows read straight from the `events` table (stream_type, stream_id,
    event_id, event_type, data as a dict), their personal values opened under their customers'
    keys (None for an erased customer's), as the write service opens them."""
    subjects = [
        subject_of(r["event_type"], r["stream_type"], r["stream_id"], r["data"])
        if personal_paths(r["event_type"])
        else None
        for r in rows
    ]
    wanted = {UUID(str(s)) for s in subjects if s is not None}
    ciphers = await sealed(pool, env)["keys"].ciphers(wanted) if wanted else {}
    return [
        dict(r["data"])
        if subject is None
        else unseal(
            r["data"],
            r["event_type"],
            ciphers.get(UUID(str(subject))),
            subject=subject,
            event_id=r["event_id"],
        )
        for r, subject in zip(rows, subjects, strict=True)
    ]
