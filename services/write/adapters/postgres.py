"""The PostgreSQL event store: appends with optimistic concurrency, grouped into shared commits,
over the commit-ordered log (event_log) it reads.
"""

import logging
from collections.abc import Sequence
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import orjson

from shared.contracts.envelope import EventMetadata
from shared.contracts.events import DomainEvent
from shared.contracts.serialization import EventSerializer
from shared.plumbing.tracing import enabled, links_to, span

from ..application.ports import (
    AppendResult,
    EmailClaim,
    IdempotencyKeyTaken,
    IdempotencyRecord,
    StoredResponse,
    StoredStream,
)
from ..domain.errors import ConcurrencyError, DuplicateEmail
from .event_log import Notifier, PostgresEventLog, postgres_call
from .group_commit import GroupCommit, PendingAppend
from .migrations import Conn

# The idempotency table's status_code column predates the `created` flag: kept as it is.
CREATED, APPLIED = 201, 200

log = logging.getLogger(__name__)

# The rows of one or more appends in one statement, in order, each with its own stream. Data and
# metadata come as JSON text: a jsonb[] parameter would run the connection's Python jsonb codec
# once per element, inside asyncpg's array encoder, at about twice the cost.
_INSERT = """
INSERT INTO events (event_id, stream_type, stream_id, version, event_type, schema_version,
                    data, metadata)
SELECT e.event_id, e.stream_type, e.stream_id, e.version, e.event_type, e.schema_version,
       e.data::jsonb, e.metadata::jsonb
FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::int[], $5::text[], $6::int[], $7::text[],
            $8::text[])
     WITH ORDINALITY AS e(event_id, stream_type, stream_id, version, event_type, schema_version,
                          data, metadata, ord)
ORDER BY e.ord
RETURNING stream_id, version, position
"""


async def init_connection(conn: asyncpg.Connection) -> None:
    """jsonb travels as Python objects, encoded and decoded with orjson."""
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda value: orjson.dumps(value).decode(),
        decoder=orjson.loads,
        schema="pg_catalog",
    )


async def keep_session(conn: asyncpg.Connection) -> None:
    """What a connection back in the pool needs besides asyncpg's own rollback: nothing.

    asyncpg's default sends `pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL` on
    every release, a round trip for each append, NOTIFY and relay read. This pool's sessions
    never take those: session advisory locks and LISTEN live on PostgresLeadership's own
    connection, migrations lock per transaction, and nothing SETs a session variable or holds
    a cursor past its transaction.
    """


@postgres_call
async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 20) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=init_connection,
        reset=keep_session,
        command_timeout=30,
    )
    assert pool is not None
    return pool


class PostgresEventStore(PostgresEventLog):
    """The event store over one asyncpg pool: the log's reads, and appends to it."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        serializer: EventSerializer | None = None,
        *,
        max_in_flight: int = 2,
    ) -> None:
        super().__init__(pool)
        self._serializer = serializer or EventSerializer()
        self._notifier = Notifier(pool)
        self._group = GroupCommit(self._commit, max_in_flight=max_in_flight)

    @postgres_call
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

    @postgres_call
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
        if not events:
            raise ValueError("an append needs at least one event")
        pending = PendingAppend(
            stream_type=stream_type,
            stream_id=stream_id,
            expected_version=expected_version,
            metadata=metadata.model_dump_json(exclude_none=True),
            traceparent=metadata.traceparent,
            event_ids=[uuid4() for _ in events],
            event_types=[e.event_type() for e in events],
            schema_versions=[e.schema_version for e in events],
            data=[orjson.dumps(self._serializer.to_data(e)).decode() for e in events],
            email=email,
            idempotency=idempotency,
        )
        attributes: dict[str, str | int] | None = None
        if enabled():  # built only for a span that records: every command comes this way
            attributes = {"ordering.stream_type": stream_type, "ordering.stream_id": str(stream_id)}
            attributes["ordering.events"] = len(events)
        with span("event_store append", attributes=attributes):
            result = await self._group.submit(pending)
        self._notifier.poke()
        return result

    async def _commit(self, batch: list[PendingAppend]) -> None:
        """Commit a batch of appends: one transaction for all, or one each after a conflict.

        A conflict (a taken version, email or idempotency key) rolls the whole batch back; each
        append then runs alone, so that only the one that conflicts fails. Any other error of
        the batch goes up, and GroupCommit fails every append of it. Its span links the
        commands of every append it holds.
        """
        links = links_to(item.traceparent for item in batch)
        with span("event_store commit", attributes={"ordering.appends": len(batch)}, links=links):
            await self._commit_batch(batch)

    async def _commit_batch(self, batch: list[PendingAppend]) -> None:
        if len(batch) > 1:
            try:
                positions = await self._insert(batch)
            except asyncpg.UniqueViolationError:
                pass  # one by one, below
            else:
                for item in batch:
                    item.succeed(positions[item.stream_id, item.version])
                return
        for item in batch:
            try:
                positions = await self._insert([item])
                item.succeed(positions[item.stream_id, item.version])
            except asyncpg.UniqueViolationError as exc:
                item.fail(_translate(exc))
            except Exception as exc:  # noqa: BLE001 - handed to the caller waiting for it
                item.fail(exc)

    async def _insert(self, batch: list[PendingAppend]) -> dict[tuple[UUID, int], int]:
        """Every append of the batch (one or more) in one transaction, with the emails it claims
        and the idempotency keys it records; the position of each event by (stream, version)."""
        columns: tuple[list[Any], ...] = ([], [], [], [], [], [], [], [])
        for item in batch:
            n = len(item.event_ids)
            columns[0].extend(item.event_ids)
            columns[1].extend([item.stream_type] * n)
            columns[2].extend([item.stream_id] * n)
            columns[3].extend(range(item.expected_version + 1, item.version + 1))
            columns[4].extend(item.event_types)
            columns[5].extend(item.schema_versions)
            columns[6].extend(item.data)
            columns[7].extend([item.metadata] * n)
        emails = [(i.stream_id, i.email) for i in batch if i.email is not None]
        remembered = [i for i in batch if i.idempotency is not None]
        if not emails and not remembered:
            return _positions(await self._pool.fetch(_INSERT, *columns))
        async with self._pool.acquire() as conn, conn.transaction():
            if emails:
                await _claim_emails(conn, emails)
            positions = _positions(await conn.fetch(_INSERT, *columns))
            if remembered:
                await _remember(conn, [(i, positions[i.stream_id, i.version]) for i in remembered])
            return positions

    @postgres_call
    async def stream_type_of(self, stream_id: UUID) -> str | None:
        """The type of a stream, from its first event; None when it does not exist."""
        value = await self._pool.fetchval(
            "SELECT stream_type FROM events WHERE stream_id = $1 AND version = 1", stream_id
        )
        return None if value is None else str(value)

    async def close(self) -> None:
        await self._notifier.close()

    @postgres_call
    async def find_response(self, key: str) -> StoredResponse | None:
        row = await self._pool.fetchrow(
            "SELECT fingerprint, status_code = $2 AS created, stream_id, version, position"
            " FROM idempotency_keys WHERE key = $1",
            key,
            CREATED,
        )
        return None if row is None else StoredResponse(**dict(row))


async def _claim_emails(conn: "Conn", claims: list[tuple[UUID, EmailClaim]]) -> None:
    released = [(c.release, customer) for customer, c in claims if c.release is not None]
    if released:
        await conn.execute(
            "DELETE FROM customer_emails WHERE (email, customer_id) IN"
            " (SELECT * FROM unnest($1::text[], $2::uuid[]))",
            [email for email, _ in released],
            [customer for _, customer in released],
        )
    await conn.execute(
        "INSERT INTO customer_emails (email, customer_id)"
        " SELECT * FROM unnest($1::text[], $2::uuid[])",
        [c.claim for _, c in claims],
        [customer for customer, _ in claims],
    )


async def _remember(conn: "Conn", appended: list[tuple[PendingAppend, int]]) -> None:
    records = [(item, item.idempotency, pos) for item, pos in appended if item.idempotency]
    await conn.execute(
        "INSERT INTO idempotency_keys (key, fingerprint, status_code, stream_id, version, position)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::uuid[], $5::int[],"
        " $6::bigint[])",
        [r.key for _, r, _ in records],
        [r.fingerprint for _, r, _ in records],
        [CREATED if r.created else APPLIED for _, r, _ in records],
        [item.stream_id for item, _, _ in records],
        [item.version for item, _, _ in records],
        [pos for _, _, pos in records],
    )


def _positions(rows: list[asyncpg.Record]) -> dict[tuple[UUID, int], int]:
    """The position of each inserted (stream, version)."""
    return {(r["stream_id"], r["version"]): r["position"] for r in rows}


def _translate(exc: asyncpg.UniqueViolationError) -> Exception:
    constraint = getattr(exc, "constraint_name", None)
    if constraint == "customer_emails_pkey":
        return DuplicateEmail("another customer already uses this email")
    if constraint == "idempotency_keys_pkey":
        return IdempotencyKeyTaken()
    if constraint == "events_stream_version":
        return ConcurrencyError("the stream moved on: version already taken")
    return exc
