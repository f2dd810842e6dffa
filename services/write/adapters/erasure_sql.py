"""The statements an erasure adds to its append, and what tells an erased customer's refusal."""

from uuid import UUID

import asyncpg

from .group_commit import PendingAppend
from .migrations import Conn

# Taken before anything else of the erasure, so that a key another transaction is inserting
# for the customer (its trigger takes the same lock) is either committed and deleted below, or
# refused once this commits.
_LOCK = "SELECT personal_data_lock(c) FROM unnest($1::uuid[]) AS c"
_ERASE = """
WITH released AS (DELETE FROM customer_emails WHERE customer_id = $1 RETURNING 1),
     destroyed AS (DELETE FROM customer_keys WHERE customer_id = $1 RETURNING 1)
INSERT INTO customer_erasures (customer_id, event_id, position, erased_at, requested_by,
                               fields, claims_released)
SELECT $1, $2, $3, $4, $5, $6::text[], (SELECT count(*) FROM released)
"""
_ANY_ERASED = "SELECT EXISTS (SELECT 1 FROM customer_erasures WHERE customer_id = ANY($1::uuid[]))"


async def lock_customers(conn: Conn, customers: list[UUID]) -> None:
    await conn.execute(_LOCK, sorted(customers))  # sorted: two erasures never wait in a circle


async def erase(conn: Conn, appended: list[tuple[PendingAppend, int]]) -> None:
    """The journal row of each erasure (its CustomerErased is the append's last event), its
    customer's key and email claims deleted."""
    for item, position in appended:
        request = item.erasure
        assert request is not None
        await conn.execute(
            _ERASE,
            request.customer_id,
            item.event_ids[-1],
            position,
            request.erased_at,
            request.requested_by,
            list(request.fields),
        )


async def any_erased(conn: Conn | asyncpg.Pool, customers: list[UUID]) -> bool:
    return bool(await conn.fetchval(_ANY_ERASED, customers))
