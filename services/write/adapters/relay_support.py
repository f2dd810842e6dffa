"""PostgreSQL pieces of the relay: its checkpoint and the leadership lock."""

import asyncio
import contextlib
import logging

import asyncpg

from shared.contracts.envelope import START, Cursor

from .event_log import NOTIFY_CHANNEL, postgres_call

log = logging.getLogger(__name__)

# An arbitrary constant naming the relay's leadership among the database's advisory locks.
RELAY_LOCK = 7_201_002


class PostgresCheckpoints:
    """The relay's position in the commit-ordered log, one row per relay name."""

    def __init__(self, pool: asyncpg.Pool, name: str = "kafka") -> None:
        self._pool = pool
        self._name = name

    @postgres_call
    async def load(self) -> Cursor:
        row = await self._pool.fetchrow(
            "SELECT transaction_id::text::bigint AS tx, position FROM relay_checkpoints"
            " WHERE name = $1",
            self._name,
        )
        return START if row is None else Cursor(row["tx"], row["position"])

    @postgres_call
    async def save(self, cursor: Cursor) -> None:
        await self._pool.execute(
            "INSERT INTO relay_checkpoints (name, transaction_id, position)"
            " VALUES ($1, $2::text::xid8, $3)"
            " ON CONFLICT (name) DO UPDATE SET transaction_id = excluded.transaction_id,"
            " position = excluded.position, updated_at = now()",
            self._name,
            str(cursor.transaction_id),
            cursor.position,
        )


class PostgresLeadership:
    """A term of the relay's Leadership: its advisory lock, held on a dedicated connection
    that LISTENs for the appends' NOTIFY.

    The lock lives as long as the connection: if the connection drops, another replica can
    take over, and `lost` tells this one to stop publishing.
    """

    def __init__(self, dsn: str, lock_key: int = RELAY_LOCK) -> None:
        self._dsn = dsn
        self._lock_key = lock_key
        self._conn: asyncpg.Connection | None = None
        self._wakeup = asyncio.Event()

    @postgres_call
    async def try_acquire(self) -> bool:
        conn = await asyncpg.connect(self._dsn)
        if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", self._lock_key):
            await conn.close()
            return False
        await conn.add_listener(NOTIFY_CHANNEL, self._notified)
        self._conn = conn
        self._wakeup.set()
        return True

    @property
    def lost(self) -> bool:
        return self._conn is None or self._conn.is_closed()

    @postgres_call
    async def check(self) -> None:
        """Round-trip on the lock's connection, so a dead connection is noticed."""
        if self._conn is not None and not self._conn.is_closed():
            await self._conn.fetchval("SELECT 1")

    async def release(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                await conn.close(timeout=5)
            except (OSError, asyncpg.PostgresError, TimeoutError):
                conn.terminate()

    def clear_wakeup(self) -> None:
        self._wakeup.clear()

    async def wait_for_wakeup(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), timeout)

    def _notified(self, *_: object) -> None:
        self._wakeup.set()
