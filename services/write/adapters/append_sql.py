"""The statements of an append, and the driver's refusals of it in the application's terms."""

import functools
from typing import Any
from uuid import UUID

import asyncpg

from ..application.ports import EmailClaim, IdempotencyKeyTaken, SubjectErased
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
# Guards in the statement itself, so that no decision rests on what held before the append:
# no row at all if one of the stock streams taken as untracked exists, or if one of the
# customers whose data the rows hold was erased.
_TRACKED = "NOT EXISTS (SELECT 1 FROM events WHERE stream_id = ANY(${}::uuid[]) AND version = 1)"
_ERASED = "NOT EXISTS (SELECT 1 FROM customer_erasures WHERE customer_id = ANY(${}::uuid[]))"
# The data keys of customers registering, inserted by the same statement (under the same
# guards), so that a key exists exactly when its customer's first event does.
_KEYS = """WITH new_keys AS (
    INSERT INTO customer_keys (customer_id, wrapped, kek_id)
    SELECT * FROM unnest(${}::uuid[], ${}::bytea[], ${}::text[]) {}
)
"""


class HeldBack(Exception):
    """The guard of an insert held its rows back: a stock stream its appends took as untracked
    exists, or a customer whose data they hold was erased."""


@functools.cache
def insert_statement(tracked: bool, erased: bool, keys: bool) -> str:
    """The insert with the guards and the key insert asked for (parameters in that order,
    after the eight columns)."""
    conditions, number = [], 8
    for wanted, condition in ((tracked, _TRACKED), (erased, _ERASED)):
        if wanted:
            number += 1
            conditions.append(condition.format(number))
    where = f"WHERE {' AND '.join(conditions)}\n" if conditions else ""
    prefix = _KEYS.format(number + 1, number + 2, number + 3, where) if keys else ""
    return prefix + INSERT + where + _RETURNING


def insert_arguments(batch: list[PendingAppend]) -> tuple[str, list[Any]]:
    """The insert statement of a batch of appends, and its arguments."""
    columns: list[Any] = [[], [], [], [], [], [], [], []]
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
    subjects = sorted({subject for item in batch for subject in item.subjects})
    keys = [item.new_key for item in batch if item.new_key is not None]
    arguments = columns + [x for x in (untracked, subjects) if x]
    if keys:
        arguments += [
            [c for c, _ in keys],
            [k.wrapped for _, k in keys],
            [k.kek_id for _, k in keys],
        ]
    return insert_statement(bool(untracked), bool(subjects), bool(keys)), arguments


def positions(rows: list[asyncpg.Record], expected: int) -> dict[tuple[UUID, int], int]:
    """The position of each inserted (stream, version); HeldBack when the guards held the
    rows back (an insert without guards writes all of them, or fails)."""
    if len(rows) < expected:
        raise HeldBack()
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
    if constraint == "customer_erasures_pkey":
        return SubjectErased("the customer was erased already")
    return exc
