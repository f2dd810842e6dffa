"""The HistorySealer over PostgreSQL: events stored clear before sealing existed, sealed in place.

This is the one place that rewrites stored events, and only their personal values (the clear
string becomes its EncryptedValue under the customer's key and the event's own id, exactly as
an append would have sealed it). Batches follow the log in commit order, below the horizon of
transactions still open, as the relay reads it, so nothing committed later can appear behind
the checkpoint. The checkpoint lives in a small table of this command's own, created when
absent; its row is locked for each batch, so two runs at once take turns.

A customer without a key (history from before keys) gets one, as an append would, fenced by
the erasure journal. An erased customer's clear values are sealed under a key made for the
purpose and kept nowhere: they become as unreadable as everything else of theirs.
"""

from dataclasses import dataclass
from uuid import UUID

import asyncpg
import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.contracts.events import EVENT_TYPES
from shared.contracts.personal import (
    PERSONAL_FIELDS,
    clear_values,
    new_data_key,
    seal,
    subject_of,
)

from ..application.history_sealing import SealedBatch, SealingCounts
from ..application.ports import SubjectErased
from .customer_keys import CustomerKeys
from .event_log import postgres_call

CHECKPOINT = "personal-data"
# An arbitrary constant naming the checkpoint table's creation among the advisory locks.
_CREATE_LOCK = 7_201_005
_CREATE = """
CREATE TABLE IF NOT EXISTS history_sealing_checkpoints (
    name            text PRIMARY KEY,
    transaction_id  xid8 NOT NULL,
    position        bigint NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
)
"""
_CHECKPOINT = """
INSERT INTO history_sealing_checkpoints AS c (name, transaction_id, position)
VALUES ($1, '0'::xid8, 0)
ON CONFLICT (name) DO UPDATE SET name = c.name
RETURNING transaction_id::text::bigint AS tx, position
"""
_NEXT = """
SELECT transaction_id::text::bigint AS tx, position, event_id, stream_type, stream_id,
       event_type, schema_version, data, (SELECT max(position) FROM events) AS head
FROM events
WHERE (transaction_id, position) > ($1::text::xid8, $2::bigint)
  AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
  AND event_type = ANY($3::text[])
ORDER BY transaction_id, position
LIMIT $4
"""
_REWRITE = """
UPDATE events SET data = x.data::jsonb
FROM unnest($1::bigint[], $2::text[]) AS x(position, data)
WHERE events.position = x.position
"""
_SAVE = """
UPDATE history_sealing_checkpoints
SET transaction_id = $2::text::xid8, position = $3, updated_at = now()
WHERE name = $1
"""


def _clear_predicate() -> str:
    """SQL true for an event whose personal paths hold a clear string (constants of ours)."""
    each = []
    for event_type, paths in PERSONAL_FIELDS.items():
        held = " OR ".join(
            f"jsonb_typeof(data #> '{{{path.replace('.', ',')}}}') = 'string'" for path in paths
        )
        each.append(f"(event_type = '{event_type}' AND ({held}))")
    return " OR ".join(each)


_CLEAR_LEFT = f"SELECT count(*) FROM events WHERE {_clear_predicate()}"


@dataclass
class _Rewrite:
    """The batch's events to write back, and what sealing them took."""

    positions: list[int]
    data: list[str]  # JSON
    counts: SealingCounts


class PostgresHistorySealer:
    """Seals the clear personal values of stored events, batch by batch."""

    def __init__(self, pool: asyncpg.Pool, keys: CustomerKeys, name: str = CHECKPOINT) -> None:
        self._pool = pool
        self._keys = keys
        self._name = name
        self._created = False

    @postgres_call
    async def seal_next(self, limit: int) -> SealedBatch | None:
        await self._create_table()
        async with self._pool.acquire() as conn, conn.transaction():
            at = await conn.fetchrow(_CHECKPOINT, self._name)  # locked until this commits
            assert at is not None  # the upsert returns its row
            rows = await conn.fetch(
                _NEXT, str(at["tx"]), at["position"], list(PERSONAL_FIELDS), limit
            )
            if not rows:
                return None
            rewrite = await self._sealed(rows)
            if rewrite.positions:
                await conn.execute(_REWRITE, rewrite.positions, rewrite.data)
            last = rows[-1]
            await conn.execute(_SAVE, self._name, str(last["tx"]), last["position"])
        return SealedBatch(rewrite.counts, last["position"], last["head"])

    @postgres_call
    async def clear_left(self) -> int:
        return int(await self._pool.fetchval(_CLEAR_LEFT))

    async def _create_table(self) -> None:
        if self._created:
            return
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _CREATE_LOCK)
            await conn.execute(_CREATE)
        self._created = True

    async def _sealed(self, rows: list[asyncpg.Record]) -> _Rewrite:
        counts = SealingCounts(scanned=len(rows))
        wanted = [row for row in rows if _holds_clear(row)]
        subjects = {s for s in map(_subject, wanted) if s is not None}
        ciphers = await self._ciphers(subjects, counts)
        rewrite = _Rewrite([], [], counts)
        for row in wanted:
            subject = _subject(row)
            if subject is None or not _current(row):
                counts.left_as_they_were += 1
                continue
            cipher = ciphers[subject]
            sealed = seal(
                row["data"],
                row["event_type"],
                cipher or AESGCM(new_data_key()),
                subject=subject,
                event_id=row["event_id"],
            )
            counts.rewritten += 1
            counts.shredded += cipher is None
            counts.values_sealed += _clear_count(row)
            rewrite.positions.append(row["position"])
            rewrite.data.append(orjson.dumps(sealed).decode())
        return rewrite

    async def _ciphers(
        self, subjects: set[UUID], counts: SealingCounts
    ) -> dict[UUID, AESGCM | None]:
        """Each customer's cipher; one made for a customer without a key; None once erased."""
        found = await self._keys.ciphers(subjects)
        for subject in [s for s, cipher in found.items() if cipher is None]:
            try:
                found[subject] = await self._keys.for_append(subject)
                counts.keys_made += 1
            except SubjectErased:
                pass  # stays None: sealed under a key kept nowhere
        return found


def _subject(row: asyncpg.Record) -> UUID | None:
    found = subject_of(row["event_type"], row["stream_type"], row["stream_id"], row["data"])
    return None if found is None else UUID(found)


def _current(row: asyncpg.Record) -> bool:
    """Stored at the schema version whose personal paths PERSONAL_FIELDS names."""
    return bool(row["schema_version"] == EVENT_TYPES[row["event_type"]].schema_version)


def _clear_count(row: asyncpg.Record) -> int:
    return sum(isinstance(v, str) for v in clear_values(row["data"], row["event_type"]).values())


def _holds_clear(row: asyncpg.Record) -> bool:
    return _clear_count(row) > 0
