"""The commit-ordered log of the event store: how it is read, and how its readers hear it grew.

Readers only see rows whose transaction id is below the oldest transaction still running
(`pg_snapshot_xmin`), in `(transaction_id, position)` order. A transaction that took a position
earlier but commits later therefore can never appear behind a reader's checkpoint.
"""

import asyncio
import contextlib
import logging
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from shared.contracts.cloudevents import OutgoingEvent
from shared.contracts.envelope import START, Cursor, EventMetadata, RecordedEvent
from shared.contracts.events import FULFILMENT

from ..application.ports import LogHead, LogPage, Unavailable
from .failures import translating

log = logging.getLogger(__name__)
NOTIFY_CHANNEL = "events_appended"

# PostgreSQL refusing or dropping connections, the pool's connection gone, a timeout.
UNREACHABLE: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.InterfaceError,
    OSError,
    TimeoutError,
)
# On the methods of the PostgreSQL adapters: those failures raise the application's Unavailable,
# any other of the driver's its Refused.
postgres_call = translating(UNREACHABLE, (asyncpg.PostgresError,))

_SELECT_RECORDED = """
SELECT position, transaction_id::text::bigint AS transaction_id, event_id, stream_type, stream_id,
       version, event_type, schema_version, data, metadata, recorded_at
FROM events
"""

_VISIBLE_AFTER = """
WHERE (transaction_id, position) > ($1::text::xid8, $2::bigint)
  AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
"""
_COMMIT_ORDER = "ORDER BY events.transaction_id, events.position LIMIT $3"
_READ_ALL = f"{_SELECT_RECORDED} {_VISIBLE_AFTER} AND position >= $4 {_COMMIT_ORDER}"
# The feed's page: data and metadata as the JSON text PostgreSQL gives, never decoded here.
_READ_PAGE = f"""
SELECT position, transaction_id::text::bigint AS transaction_id, event_id, stream_type, stream_id,
       version, event_type, schema_version, data::text AS data, metadata::text AS metadata,
       recorded_at
FROM events {_VISIBLE_AFTER} {_COMMIT_ORDER}
"""

# What a record carries, in its columns' order, each value in the form it is sent in (ce_time as
# `isoformat` writes it: no fraction when it is zero), so the relay builds no model per event.
# The fulfilment process's streams are its own state: consumers have the order and stock topics.
_UTC = "(recorded_at AT TIME ZONE 'UTC')"
_READ_OUTGOING = f"""
SELECT transaction_id::text::bigint, position, date_part('epoch', recorded_at), event_id::text,
       stream_type, stream_id::text, version, event_type, schema_version,
       to_char({_UTC}, 'YYYY-MM-DD"T"HH24:MI:SS')
         || CASE WHEN {_UTC} = date_trunc('second', {_UTC}) THEN '' ELSE to_char({_UTC}, '.US')
            END || 'Z',
       data::text, metadata->>'correlation_id', metadata->>'causation_id',
       metadata->>'traceparent', metadata->'actor'->>'subject'
FROM events {_VISIBLE_AFTER} AND position >= $4 AND stream_type <> '{FULFILMENT}'
{_COMMIT_ORDER}
"""
_DATA = OutgoingEvent._fields.index("data")
_COUNT_OUTGOING = f"SELECT count(*) FROM events {_VISIBLE_AFTER} AND stream_type <> '{FULFILMENT}'"

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
ORDER BY events.transaction_id DESC, events.position DESC
LIMIT 1
"""
# The head and the highest position committed, read in one snapshot.
_HEAD_AND_HIGHEST = f"SELECT *, (SELECT max(position) FROM events) AS highest FROM ({_HEAD}) AS h"


class PostgresEventLog:
    """Reads of the events table: the whole log in commit order, one stream, the head (the
    EventFeed of the relay and the EventLogReader of the HTTP API)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @property
    def pool(self) -> asyncpg.Pool:
        return self._pool

    @postgres_call
    async def read_all(
        self, after: Cursor, limit: int, *, min_position: int = 0
    ) -> list[RecordedEvent]:
        rows = await self._read_all(after, limit, min_position)
        return [_recorded(r) for r in rows]

    async def _read_all(self, after: Cursor, limit: int, min_position: int) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            _READ_ALL, str(after.transaction_id), after.position, limit, min_position
        )
        return [dict(r) for r in rows]

    @postgres_call
    async def read_page(self, after: Cursor, limit: int) -> LogPage:
        """Rows as plain dicts, which the feed serialises directly: their data and metadata
        are the stored JSON, passed through as it is (orjson fragments), not decoded and
        encoded again."""
        found = await self._pool.fetch(_READ_PAGE, str(after.transaction_id), after.position, limit)
        rows = [dict(r) for r in found]
        if rows:
            after = Cursor(rows[-1]["transaction_id"], rows[-1]["position"])
        for row in rows:
            del row["transaction_id"]  # internal: the cursor carries it
            row["data"], row["metadata"] = orjson.Fragment(row["data"]), _fragment(row["metadata"])
        return LogPage(events=rows, next=after)

    @postgres_call
    async def read_stream(
        self, stream_id: UUID, *, after_version: int = 0, limit: int = 1000
    ) -> list[RecordedEvent]:
        rows = await self._pool.fetch(_READ_STREAM, stream_id, after_version, limit)
        return [_recorded(dict(r)) for r in rows]

    @postgres_call
    async def head(self) -> LogHead:
        row = await self._pool.fetchrow(_HEAD_AND_HIGHEST)
        if row is None:
            return LogHead(cursor=START, position=0)
        return LogHead(
            cursor=Cursor(row["transaction_id"], row["position"]), position=row["highest"]
        )

    @postgres_call
    async def read_outgoing(
        self, after: Cursor, limit: int, *, min_position: int = 0
    ) -> list[OutgoingEvent]:
        """The relay's read (the EventFeed): the events consumers get, ready to be sent."""
        rows = await self._pool.fetch(
            _READ_OUTGOING, str(after.transaction_id), after.position, limit, min_position
        )
        return [_outgoing(row) for row in rows]

    @postgres_call
    async def count_outgoing(self, after: Cursor) -> int:
        value = await self._pool.fetchval(
            _COUNT_OUTGOING, str(after.transaction_id), after.position
        )
        return int(value)

    @postgres_call
    async def max_position(self) -> int:
        value = await self._pool.fetchval("SELECT coalesce(max(position), 0) FROM events")
        return int(value)

    async def ping(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._pool.fetchval("SELECT 1"), timeout)
        except Exception as exc:  # whatever went wrong, the store did not answer
            raise Unavailable(exc) from exc


def _fragment(text: str | None) -> orjson.Fragment | None:
    return None if text is None else orjson.Fragment(text)


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


def _outgoing(row: asyncpg.Record) -> OutgoingEvent:
    """A row of the relay's read, its data made compact JSON again (jsonb's text has spaces):
    the very bytes `dumps` gives of the object the store's codec decodes."""
    values = list(row)
    values[_DATA] = orjson.dumps(orjson.loads(values[_DATA]))
    return OutgoingEvent._make(values)


def _recorded(row: dict[str, Any]) -> RecordedEvent:
    """A row of the events table as a RecordedEvent; the table's own types need no validation."""
    row["metadata"] = EventMetadata.model_construct(**row["metadata"])
    return RecordedEvent.model_construct(**row)
