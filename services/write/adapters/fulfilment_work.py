"""One batch of the fulfilment process in PostgreSQL: a transaction on one connection, with a
savepoint per instance, the database's clock, and the process's reads and writes in it."""

import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from datetime import datetime
from typing import Any, ParamSpec, TypeVar
from uuid import UUID, uuid4

import asyncpg

from shared.contracts.envelope import Cursor, EventMetadata, RecordedEvent
from shared.contracts.events import DomainEvent
from shared.contracts.personal import personal_paths
from shared.contracts.serialization import EventSerializer

from ..application.fulfilment.ports import Awaiting, History, InstanceRecord, LogBatch
from ..application.ports import Refused, Unavailable
from ..domain.errors import ConcurrencyError
from ..domain.fulfilment import Instance
from .event_log import UNREACHABLE
from .migrations import Conn

_RECORDED = """position, transaction_id::text::bigint AS transaction_id, event_id, stream_type,
       stream_id, version, event_type, schema_version, data, metadata, recorded_at"""
# The order events after the cursor, and in the same snapshot the last event any reader can see
# (so that a short page lets the cursor move past the other streams' events it skipped).
_ORDER_EVENTS = f"""
WITH page AS (
    SELECT {_RECORDED} FROM events
    WHERE (transaction_id, position) > ($1::text::xid8, $2::bigint)
      AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
      AND stream_type = 'order'
    ORDER BY events.transaction_id, events.position
    LIMIT $3),
head AS (
    SELECT transaction_id::text::bigint AS head_tx, position AS head_position FROM events
    WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
    ORDER BY events.transaction_id DESC, events.position DESC
    LIMIT 1)
SELECT * FROM head LEFT JOIN page ON true ORDER BY page.transaction_id, page.position
"""
# Due deadlines along their partial index, then the woken instances among the active ones.
_AWAITING = """
(SELECT order_id, false AS woken FROM fulfilment_instances
 WHERE state = 'active' AND deadline_at <= now() AND NOT wake ORDER BY deadline_at LIMIT $1)
UNION ALL
(SELECT order_id, true AS woken FROM fulfilment_instances
 WHERE state = 'active' AND wake ORDER BY updated_at LIMIT $1)
"""
INSTANCE_COLUMNS = """order_id, state, stage, rules, version, reservations, deadline_at, wake,
       attempts, error, started_at, progressed_at, updated_at"""
_UPSERT = """
INSERT INTO fulfilment_instances AS i
    (order_id, state, stage, rules, version, reservations, deadline_at, wake, attempts, error)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (order_id) DO UPDATE SET state = excluded.state, stage = excluded.stage,
    rules = excluded.rules, version = excluded.version, reservations = excluded.reservations,
    deadline_at = excluded.deadline_at, wake = excluded.wake, attempts = excluded.attempts,
    error = excluded.error, updated_at = now(),
    progressed_at = CASE WHEN $11 THEN now() ELSE i.progressed_at END
"""
_INSERT = """
INSERT INTO events (event_id, stream_type, stream_id, version, event_type, schema_version,
                    data, metadata)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::int[], $5::text[], $6::int[],
                     $7::jsonb[], $8::jsonb[])
"""
_SAVE_CHECKPOINT = """
INSERT INTO fulfilment_checkpoints (name, transaction_id, position) VALUES ($1, $2::text::xid8, $3)
ON CONFLICT (name) DO UPDATE SET transaction_id = excluded.transaction_id,
    position = excluded.position, updated_at = now()
"""
# Another writer got there first: a lock cycle PostgreSQL broke (or a version taken, below).
_LOST_RACE = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)
P = ParamSpec("P")
R = TypeVar("R")


@contextlib.asynccontextmanager
async def translated() -> AsyncIterator[None]:
    """The driver's failures in the application's terms, for a block: a lost race is a
    ConcurrencyError, the rest as postgres_call has them (Unavailable, Refused)."""
    try:
        yield
    except asyncpg.UniqueViolationError as exc:
        if getattr(exc, "constraint_name", None) != "events_stream_version":
            raise Refused(f"{type(exc).__name__}: {exc}") from exc
        raise ConcurrencyError("the stream moved on: version already taken") from None
    except _LOST_RACE as exc:
        raise ConcurrencyError(f"lost a race: {type(exc).__name__}") from None
    except UNREACHABLE as exc:
        raise Unavailable(exc) from exc
    except asyncpg.PostgresError as exc:
        raise Refused(f"{type(exc).__name__}: {exc}") from exc


def in_terms(method: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
    """`translated` around an async method or function."""

    @functools.wraps(method)
    async def call(*args: P.args, **kwargs: P.kwargs) -> R:
        async with translated():
            return await method(*args, **kwargs)

    return call


class PostgresFulfilmentWork:
    """The FulfilmentWork of one transaction on `conn` (opened and closed by the store)."""

    def __init__(
        self, conn: Conn, now: datetime, serializer: EventSerializer, checkpoint_name: str
    ) -> None:
        self._conn = conn
        self._now = now
        self._serializer = serializer
        self._checkpoint_name = checkpoint_name
        self.appended = False

    @property
    def now(self) -> datetime:
        return self._now

    @in_terms
    async def order_events(self, after: Cursor, limit: int) -> LogBatch:
        rows = await self._conn.fetch(
            _ORDER_EVENTS, str(after.transaction_id), after.position, limit
        )
        events = [_recorded(row) for row in rows if row["position"] is not None]
        if len(events) == limit:
            return LogBatch(events, events[-1].cursor)
        head = [Cursor(r["head_tx"], r["head_position"]) for r in rows[:1]]
        return LogBatch(events, max([after, *head, *(e.cursor for e in events[-1:])]))

    @in_terms
    async def awaiting(self, limit: int) -> list[Awaiting]:
        rows = await self._conn.fetch(_AWAITING, limit)
        return [Awaiting(order_id=r["order_id"], woken=r["woken"]) for r in rows]

    @in_terms
    async def states(self, order_ids: Sequence[UUID]) -> dict[UUID, str]:
        rows = await self._conn.fetch(
            "SELECT order_id, state FROM fulfilment_instances WHERE order_id = ANY($1::uuid[])",
            list(order_ids),
        )
        return {r["order_id"]: r["state"] for r in rows}

    @contextlib.asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        async with translated(), self._conn.transaction():
            yield

    @in_terms
    async def instance(self, order_id: UUID) -> InstanceRecord | None:
        row = await self._conn.fetchrow(
            f"SELECT {INSTANCE_COLUMNS} FROM fulfilment_instances WHERE order_id = $1 FOR UPDATE",
            order_id,
        )
        return None if row is None else record_of(row)

    @in_terms
    async def load(self, stream_id: UUID, after_version: int = 0) -> History:
        rows = await self._conn.fetch(
            "SELECT stream_type, event_id, event_type, schema_version, data, metadata"
            " FROM events WHERE stream_id = $1 AND version > $2 ORDER BY version",
            stream_id,
            after_version,
        )
        if not rows:
            return History(stream_type=None, events=[])
        decode = self._serializer.from_data
        return History(
            stream_type=rows[0]["stream_type"],
            events=[decode(r["event_type"], r["schema_version"], r["data"]) for r in rows],
            first=EventMetadata.model_construct(**rows[0]["metadata"]),
            last_id=rows[-1]["event_id"],
            last=EventMetadata.model_construct(**rows[-1]["metadata"]),
        )

    async def append(
        self,
        *,
        stream_type: str,
        stream_id: UUID,
        expected_version: int,
        events: Sequence[DomainEvent],
        metadata: EventMetadata,
    ) -> None:
        await insert_events(
            self._conn,
            self._serializer,
            stream_type=stream_type,
            stream_id=stream_id,
            expected_version=expected_version,
            events=events,
            metadata=metadata,
        )
        self.appended = True

    @in_terms
    async def save(self, instance: Instance) -> None:
        args = (False, instance.attempts, instance.error, True)
        await self._conn.execute(_UPSERT, *_columns(instance), *args)

    @in_terms
    async def failed(self, instance: Instance, *, error: str) -> None:
        args = (instance.state == "active", instance.attempts, error, False)
        await self._conn.execute(_UPSERT, *_columns(instance), *args)

    @in_terms
    async def save_checkpoint(self, cursor: Cursor) -> None:
        await self._conn.execute(
            _SAVE_CHECKPOINT, self._checkpoint_name, str(cursor.transaction_id), cursor.position
        )


@in_terms
async def insert_events(
    conn: Conn,
    serializer: EventSerializer,
    *,
    stream_type: str,
    stream_id: UUID,
    expected_version: int,
    events: Sequence[DomainEvent],
    metadata: EventMetadata,
) -> None:
    """Append `events` after `expected_version` in `conn`'s transaction; ConcurrencyError
    when the version is taken (or PostgreSQL broke a lock cycle this append was in)."""
    if not events:
        return
    if personal := [e.event_type() for e in events if personal_paths(e.event_type())]:
        # the process holds no key: what it writes must hold no personal data
        raise ValueError(f"the fulfilment process cannot append {personal}: personal data")
    n = len(events)
    meta = metadata.model_dump(mode="json", exclude_none=True)
    await conn.execute(
        _INSERT,
        [uuid4() for _ in events],
        [stream_type] * n,
        [stream_id] * n,
        list(range(expected_version + 1, expected_version + n + 1)),
        [e.event_type() for e in events],
        [e.schema_version for e in events],
        [serializer.to_data(e) for e in events],
        [meta] * n,
    )


def _columns(instance: Instance) -> tuple[Any, ...]:
    return (
        instance.order_id,
        instance.state,
        instance.stage,
        instance.rules,
        instance.version,
        dict(instance.reservations),
        instance.deadline_at,
    )


def record_of(row: asyncpg.Record) -> InstanceRecord:
    values = dict(row)
    values["reservations"] = {str(k): int(v) for k, v in (values["reservations"] or {}).items()}
    return InstanceRecord(**values)


def _recorded(row: asyncpg.Record) -> RecordedEvent:
    values = {k: row[k] for k in RecordedEvent.model_fields}
    values["metadata"] = EventMetadata.model_construct(**values["metadata"])
    return RecordedEvent.model_construct(**values)
