"""The statements of an append, and the driver's refusals of it in the application's terms."""

from typing import Any
from uuid import UUID

import asyncpg

from ..application.ports import EmailClaim, IdempotencyKeyTaken
from ..domain.errors import ConcurrencyError, DuplicateEmail
from .group_commit import PendingAppend
from .migrations import Conn

# The idempotency table's status_code column predates the `created` flag: kept as it is.
CREATED, APPLIED = 201, 200

# The rows of one or more appends in one statement, in order, each with its own stream. Data and
# metadata come as JSON text: a jsonb[] parameter would run the connection's Python jsonb codec
# once per element, inside asyncpg's array encoder, at about twice the cost.
INSERT = """
INSERT INTO events (event_id, stream_type, stream_id, version, event_type, schema_version,
                    data, metadata)
SELECT e.event_id, e.stream_type, e.stream_id, e.version, e.event_type, e.schema_version,
       e.data::jsonb, e.metadata::jsonb
FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::int[], $5::text[], $6::int[], $7::text[],
            $8::text[])
     WITH ORDINALITY AS e(event_id, stream_type, stream_id, version, event_type, schema_version,
                          data, metadata, ord)
"""
_RETURNING = "ORDER BY e.ord\nRETURNING stream_id, version, position\n"
UNGUARDED_INSERT = INSERT + _RETURNING
# The same, unless one of the stock streams in $9 exists: then no row at all. The check is in
# the statement itself, so no order is decided on a SKU's tracking as it was before the append.
GUARDED_INSERT = (
    INSERT
    + "WHERE NOT EXISTS (SELECT 1 FROM events WHERE stream_id = ANY($9::uuid[]) AND version = 1)\n"
    + _RETURNING
)


class StaleTracking(Exception):
    """The guard of an insert found a stock stream its appends took as untracked."""


def insert_arguments(batch: list[PendingAppend]) -> tuple[str, list[Any]]:
    """The insert statement of a batch of appends, and its arguments."""
    columns: list[list[Any]] = [[], [], [], [], [], [], [], []]
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
    untracked = sorted({stream for item in batch for stream in item.untracked})
    if not untracked:
        return UNGUARDED_INSERT, columns
    return GUARDED_INSERT, [*columns, untracked]


def positions(rows: list[asyncpg.Record], expected: int) -> dict[tuple[UUID, int], int]:
    """The position of each inserted (stream, version); StaleTracking when the guard held the
    rows back (an insert without the guard writes all of them, or fails)."""
    if len(rows) < expected:
        raise StaleTracking()
    return {(r["stream_id"], r["version"]): r["position"] for r in rows}


async def claim_emails(conn: Conn, claims: list[tuple[UUID, EmailClaim]]) -> None:
    released = [(c.release, customer) for customer, c in claims if c.release is not None]
    if released:
        await conn.execute(
            "DELETE FROM customer_emails WHERE (email_index, customer_id) IN"
            " (SELECT * FROM unnest($1::text[], $2::uuid[]))",
            [email for email, _ in released],
            [customer for _, customer in released],
        )
    await conn.execute(
        "INSERT INTO customer_emails (email_index, customer_id)"
        " SELECT * FROM unnest($1::text[], $2::uuid[])",
        [c.claim for _, c in claims],
        [customer for customer, _ in claims],
    )


async def remember(conn: Conn, appended: list[tuple[PendingAppend, int]]) -> None:
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


def translate(exc: asyncpg.UniqueViolationError) -> Exception:
    constraint = getattr(exc, "constraint_name", None)
    if constraint == "customer_emails_pkey":
        return DuplicateEmail("another customer already uses this email")
    if constraint == "idempotency_keys_pkey":
        return IdempotencyKeyTaken()
    if constraint == "events_stream_version":
        return ConcurrencyError("the stream moved on: version already taken")
    return exc
