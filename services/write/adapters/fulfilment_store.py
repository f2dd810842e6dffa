"""The fulfilment process's PostgreSQL store: its batches' transactions (fulfilment_work), its
checkpoint among the relay's, its lag, and its instances for operators (one row, a retry)."""

import contextlib
from collections.abc import AsyncIterator
from uuid import UUID

import asyncpg

from shared.contracts.envelope import START, Cursor, EventMetadata
from shared.contracts.events import FULFILMENT, fulfilment_stream_id
from shared.contracts.personal import SEALED_EVENT_TYPES
from shared.contracts.serialization import EventSerializer

from ..application.fulfilment.ports import InstanceRecord, Lag, RetryOutcome
from ..domain.fulfilment_events import RETRY, WRITE_EVENT_TYPES, Cause, FulfilmentRetried
from .event_log import NOTIFY_CHANNEL, postgres_call
from .fulfilment_work import (
    INSTANCE_COLUMNS,
    PostgresFulfilmentWork,
    insert_events,
    record_of,
    translated,
)

# Arbitrary constants naming, among the database's advisory locks, the process's leadership
# and its batches (one at a time: should two replicas ever both think they lead, the second
# batch waits for the first to commit, then finds its work done, instead of racing it).
FULFILMENT_LOCK = 7_201_003
BATCH_LOCK = 7_201_004
CHECKPOINT = "fulfilment"

_LAG = """
SELECT count(*) AS events,
       coalesce(extract(epoch FROM now() - min(recorded_at)), 0)::float8 AS seconds
FROM events
WHERE (transaction_id, position) > ($1::text::xid8, $2::bigint)
  AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
  AND stream_type = 'order'
"""
_RETRIED = """
UPDATE fulfilment_instances SET state = 'active', attempts = 0, error = NULL, wake = true,
    version = version + 1, updated_at = now()
WHERE order_id = $1
"""


# The process reads orders' and stock items' events as they are stored: personal values sealed
# (it needs none of them, so it holds no key and opens nothing).
SEALED_WRITE_EVENT_TYPES = {**WRITE_EVENT_TYPES, **SEALED_EVENT_TYPES}


class PostgresFulfilmentStore:
    """The process's FulfilmentStore, and FulfilmentInstances for operators, over one pool
    (whose connections decode jsonb, see postgres.init_connection)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        serializer: EventSerializer | None = None,
        *,
        checkpoint_name: str = CHECKPOINT,
    ) -> None:
        self._pool = pool
        self._serializer = serializer or EventSerializer(SEALED_WRITE_EVENT_TYPES)
        self._checkpoint_name = checkpoint_name

    @contextlib.asynccontextmanager
    async def work(self) -> AsyncIterator[PostgresFulfilmentWork]:
        """A batch's transaction; committed (with a NOTIFY when it appended: the relay
        publishes what the process wrote) when the block ends."""
        async with translated(), self._pool.acquire() as conn, conn.transaction():
            now = await conn.fetchval("SELECT now() FROM pg_advisory_xact_lock($1)", BATCH_LOCK)
            work = PostgresFulfilmentWork(conn, now, self._serializer, self._checkpoint_name)
            yield work
            if work.appended:
                await conn.execute(f"NOTIFY {NOTIFY_CHANNEL}")

    @postgres_call
    async def checkpoint(self) -> Cursor:
        row = await self._pool.fetchrow(
            "SELECT transaction_id::text::bigint AS tx, position FROM fulfilment_checkpoints"
            " WHERE name = $1",
            self._checkpoint_name,
        )
        return START if row is None else Cursor(row["tx"], row["position"])

    @postgres_call
    async def lag(self, after: Cursor) -> Lag:
        row = await self._pool.fetchrow(_LAG, str(after.transaction_id), after.position)
        assert row is not None
        return Lag(events=row["events"], seconds=max(0.0, row["seconds"]))

    @postgres_call
    async def get(self, order_id: UUID) -> InstanceRecord | None:
        row = await self._pool.fetchrow(
            f"SELECT {INSTANCE_COLUMNS} FROM fulfilment_instances WHERE order_id = $1", order_id
        )
        return None if row is None else record_of(row)

    async def retry(
        self, order_id: UUID, *, by: str, metadata: EventMetadata | None = None
    ) -> RetryOutcome:
        async with translated(), self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "SELECT state, version FROM fulfilment_instances WHERE order_id = $1 FOR UPDATE",
                order_id,
            )
            if row is None:
                return RetryOutcome.UNKNOWN
            if row["state"] != "suspended":
                return RetryOutcome.NOT_SUSPENDED
            await insert_events(
                conn,
                self._serializer,
                stream_type=FULFILMENT,
                stream_id=fulfilment_stream_id(order_id),
                expected_version=row["version"],
                events=[FulfilmentRetried(by=by, cause=Cause(event=RETRY))],
                metadata=metadata or EventMetadata(actor={"subject": by}),
            )
            await conn.execute(_RETRIED, order_id)
            await conn.execute(f"NOTIFY {NOTIFY_CHANNEL}")
        return RetryOutcome.RETRIED
