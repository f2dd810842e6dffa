"""Versioned schema migrations, applied at start under an advisory lock (safe with replicas)."""

import logging

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from .blind_index import BlindIndex
from .migrations_pii import PERSONAL_DATA, rewrite_clear_claims

log = logging.getLogger(__name__)
Conn = asyncpg.Connection | PoolConnectionProxy

# An arbitrary constant that names the migration lock among the database's advisory locks.
MIGRATION_LOCK = 7_201_001

MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE events (
            position        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            transaction_id  xid8 NOT NULL DEFAULT pg_current_xact_id(),
            event_id        uuid NOT NULL UNIQUE,
            stream_type     text NOT NULL,
            stream_id       uuid NOT NULL,
            version         integer NOT NULL CHECK (version > 0),
            event_type      text NOT NULL,
            schema_version  integer NOT NULL,
            data            jsonb NOT NULL,
            metadata        jsonb NOT NULL DEFAULT '{}',
            recorded_at     timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT events_stream_version UNIQUE (stream_id, version)
        );
        CREATE INDEX events_commit_order ON events (transaction_id, position);

        CREATE TABLE customer_emails (
            email        text PRIMARY KEY,
            customer_id  uuid NOT NULL
        );

        CREATE TABLE idempotency_keys (
            key          text PRIMARY KEY,
            fingerprint  text NOT NULL,
            status_code  integer NOT NULL,
            stream_id    uuid NOT NULL,
            version      integer NOT NULL,
            position     bigint NOT NULL,
            created_at   timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE relay_checkpoints (
            name            text PRIMARY KEY,
            transaction_id  xid8 NOT NULL,
            position        bigint NOT NULL,
            updated_at      timestamptz NOT NULL DEFAULT now()
        );
        """,
    ),
    (
        2,
        """
        CREATE TABLE fulfilment_instances (
            order_id       uuid PRIMARY KEY,
            state          text NOT NULL CHECK (state IN ('active', 'suspended', 'completed')),
            stage          text NOT NULL,
            rules          integer NOT NULL,
            version        integer NOT NULL,
            reservations   jsonb NOT NULL DEFAULT '{}',
            deadline_at    timestamptz NULL,
            wake           boolean NOT NULL DEFAULT false,
            attempts       integer NOT NULL DEFAULT 0,
            error          text NULL,
            started_at     timestamptz NOT NULL DEFAULT now(),
            progressed_at  timestamptz NOT NULL DEFAULT now(),
            updated_at     timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX fulfilment_instances_deadline ON fulfilment_instances (deadline_at)
            WHERE state = 'active';
        CREATE INDEX fulfilment_instances_state ON fulfilment_instances (state, updated_at);

        -- The process's place in the log: a table of its own (relay_checkpoints is the relay's).
        CREATE TABLE fulfilment_checkpoints (
            name            text PRIMARY KEY,
            transaction_id  xid8 NOT NULL,
            position        bigint NOT NULL,
            updated_at      timestamptz NOT NULL DEFAULT now()
        );
        """,
    ),
    (3, PERSONAL_DATA),
]


async def migrate(conn: "Conn", *, index: BlindIndex | None = None) -> list[int]:
    """Apply the migrations this database lacks; returns the versions applied now. With the
    `index`, the email claims still held clear are rewritten to their blind index."""
    applied_now: list[int] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        for version, sql in MIGRATIONS:
            if version in done:
                continue
            await conn.execute(sql)
            await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
            applied_now.append(version)
        if index is not None:
            await rewrite_clear_claims(conn, index)
    if applied_now:
        log.info("schema migrated", extra={"versions": applied_now})
    return applied_now
