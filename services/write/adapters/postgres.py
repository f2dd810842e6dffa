"""The PostgreSQL event store: appends with optimistic concurrency, commit-order reads.

Readers only see rows whose transaction id is below the oldest transaction still running
(`pg_snapshot_xmin`), in `(transaction_id, position)` order. A transaction that took a position
earlier but commits later therefore can never appear behind a reader's checkpoint.
"""

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import orjson
from asyncpg.pool import PoolConnectionProxy

from shared.envelope import Cursor, EventMetadata, RecordedEvent
from shared.events import DomainEvent
from shared.serialization import EventSerializer

from ..application.ports import (
    AppendResult,
    EmailClaim,
    IdempotencyKeyTaken,
    IdempotencyRecord,
    StoredResponse,
    StoredStream,
)
from ..domain.errors import ConcurrencyError, DuplicateEmail

log = logging.getLogger(__name__)
NOTIFY_CHANNEL = "events_appended"
Conn = asyncpg.Connection | PoolConnectionProxy

_INSERT = """
WITH inserted AS (
    INSERT INTO events (event_id, stream_type, stream_id, version, event_type, schema_version,
                        data, metadata)
    SELECT e.event_id, $1, $2, $3 + e.ord, e.event_type, e.schema_version, e.data, $4
    FROM unnest($5::uuid[], $6::text[], $7::int[], $8::jsonb[])
         WITH ORDINALITY AS e(event_id, event_type, schema_version, data, ord)
    ORDER BY e.ord
    RETURNING position
)
SELECT max(position) AS position FROM inserted
"""

_SELECT_RECORDED = """
SELECT position, transaction_id::text::bigint AS transaction_id, event_id, stream_type, stream_id,
       version, event_type, schema_version, data, metadata, recorded_at
FROM events
"""

_READ_ALL = (
    _SELECT_RECORDED
    + """
WHERE (transaction_id, position) > ($1::text::xid8, $2::bigint)
  AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
  AND position >= $4
ORDER BY transaction_id, position
LIMIT $3
"""
)

_READ_STREAM = (
    _SELECT_RECORDED
    + """
WHERE stream_id = $1 AND version > $2
ORDER BY version
LIMIT $3
"""
)

_HEAD = """
SELECT transaction_id::text::bigint AS transaction_id, position FROM events
WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY transaction_id DESC, position DESC
LIMIT 1
"""


async def init_connection(conn: asyncpg.Connection) -> None:
    """jsonb travels as Python objects, encoded and decoded with orjson."""
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda value: orjson.dumps(value).decode(),
        decoder=orjson.loads,
        schema="pg_catalog",
    )


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 20) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=init_connection, command_timeout=30
    )
    assert pool is not None
    return pool


class PostgresEventStore:
    """The event store over one asyncpg pool."""

    def __init__(self, pool: asyncpg.Pool, serializer: EventSerializer | None = None) -> None:
        self._pool = pool
        self._serializer = serializer or EventSerializer()
        self._notifier = Notifier(pool)

    @property
    def pool(self) -> asyncpg.Pool:
        return self._pool

    async def load(self, stream_id: UUID, after_version: int = 0) -> StoredStream:
        rows = await self._pool.fetch(
            "SELECT stream_type, event_type, schema_version, data FROM events"
            " WHERE stream_id = $1 AND version > $2 ORDER BY version",
            stream_id,
            after_version,
        )
        if not rows:
            return StoredStream(stream_type=None, events=[])
        decode = self._serializer.from_data
        events = [decode(r["event_type"], r["schema_version"], r["data"]) for r in rows]
        return StoredStream(stream_type=rows[0]["stream_type"], events=events)

    async def append(
        self,
        *,
        stream_type: str,
        stream_id: UUID,
        expected_version: int,
        events: Sequence[DomainEvent],
        metadata: EventMetadata,
        email: EmailClaim | None = None,
        idempotency: IdempotencyRecord | None = None,
    ) -> AppendResult:
        args = (
            stream_type,
            stream_id,
            expected_version,
            metadata.model_dump(exclude_none=True),
            [uuid4() for _ in events],
            [e.event_type() for e in events],
            [e.schema_version for e in events],
            [self._serializer.to_data(e) for e in events],
        )
        version = expected_version + len(events)
        try:
            if email is None and idempotency is None:
                position = await self._pool.fetchval(_INSERT, *args)
            else:
                async with self._pool.acquire() as conn, conn.transaction():
                    if email is not None:
                        await _claim_email(conn, stream_id, email)
                    position = await conn.fetchval(_INSERT, *args)
                    if idempotency is not None:
                        await _remember(conn, idempotency, stream_id, version, position)
        except asyncpg.UniqueViolationError as exc:
            raise _translate(exc) from exc
        self._notifier.poke()
        return AppendResult(version=version, position=position)

    async def stream_type_of(self, stream_id: UUID) -> str | None:
        """The type of a stream, from its first event; None when it does not exist."""
        value = await self._pool.fetchval(
            "SELECT stream_type FROM events WHERE stream_id = $1 AND version = 1", stream_id
        )
        return None if value is None else str(value)

    async def close(self) -> None:
        await self._notifier.close()

    async def find_response(self, key: str) -> StoredResponse | None:
        row = await self._pool.fetchrow(
            "SELECT fingerprint, status_code, stream_id, version, position"
            " FROM idempotency_keys WHERE key = $1",
            key,
        )
        return None if row is None else StoredResponse(**dict(row))

    async def read_all(
        self, after: Cursor, limit: int, *, min_position: int = 0
    ) -> list[RecordedEvent]:
        rows = await self.read_all_raw(after, limit, min_position=min_position)
        return [RecordedEvent.model_validate(r) for r in rows]

    async def read_all_raw(
        self, after: Cursor, limit: int, *, min_position: int = 0
    ) -> list[dict[str, Any]]:
        """The log in commit order, as plain dicts (the feed serialises them directly)."""
        rows = await self._pool.fetch(
            _READ_ALL, str(after.transaction_id), after.position, limit, min_position
        )
        return [dict(r) for r in rows]

    async def read_stream(
        self, stream_id: UUID, *, after_version: int = 0, limit: int = 1000
    ) -> list[RecordedEvent]:
        rows = await self._pool.fetch(_READ_STREAM, stream_id, after_version, limit)
        return [RecordedEvent.model_validate(dict(r)) for r in rows]

    async def head(self) -> Cursor | None:
        row = await self._pool.fetchrow(_HEAD)
        return None if row is None else Cursor(row["transaction_id"], row["position"])

    async def count_after(self, after: Cursor) -> int:
        value = await self._pool.fetchval(
            "SELECT count(*) FROM events WHERE (transaction_id, position) > ($1::text::xid8, $2)"
            " AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())",
            str(after.transaction_id),
            after.position,
        )
        return int(value)

    async def max_position(self) -> int:
        value = await self._pool.fetchval("SELECT coalesce(max(position), 0) FROM events")
        return int(value)


class Notifier:
    """Wakes the relay (through NOTIFY) after appends, outside the appending transactions.

    A NOTIFY inside the append would serialise every commit on PostgreSQL's notification
    queue; here a burst of appends costs one NOTIFY, sent as soon as the previous one is done.
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._pending = False
        self._task: asyncio.Task[None] | None = None

    def poke(self) -> None:
        self._pending = True
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain(), name="notifier")

    async def _drain(self) -> None:
        """NOTIFY until no append happened during the last one, then stop."""
        while self._pending:
            self._pending = False
            try:
                await self._pool.execute(f"NOTIFY {NOTIFY_CHANNEL}")
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
                log.debug("notify failed (the relay's poll will catch up): %r", exc)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def _claim_email(conn: "Conn", customer_id: UUID, email: EmailClaim) -> None:
    if email.release is not None:
        await conn.execute(
            "DELETE FROM customer_emails WHERE email = $1 AND customer_id = $2",
            email.release,
            customer_id,
        )
    await conn.execute(
        "INSERT INTO customer_emails (email, customer_id) VALUES ($1, $2)", email.claim, customer_id
    )


async def _remember(
    conn: "Conn", record: IdempotencyRecord, stream_id: UUID, version: int, pos: int
) -> None:
    await conn.execute(
        "INSERT INTO idempotency_keys (key, fingerprint, status_code, stream_id, version, position)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        record.key,
        record.fingerprint,
        record.status_code,
        stream_id,
        version,
        pos,
    )


def _translate(exc: asyncpg.UniqueViolationError) -> Exception:
    constraint = getattr(exc, "constraint_name", None)
    if constraint == "customer_emails_pkey":
        return DuplicateEmail("another customer already uses this email")
    if constraint == "idempotency_keys_pkey":
        return IdempotencyKeyTaken()
    if constraint == "events_stream_version":
        return ConcurrencyError("the stream moved on: version already taken")
    return exc
