"""The key table as a backup holds it, and written back the way a restore does: rows copied
with the table's triggers disabled (pg_restore --disable-triggers)."""

import asyncpg


async def copy_keys(pg_url: str, customer_id: str) -> list[asyncpg.Record]:
    """The customer's rows of customer_keys, as a dump would take them."""
    conn = await asyncpg.connect(pg_url)
    try:
        sql = "SELECT * FROM customer_keys WHERE customer_id = $1::uuid"
        return list(await conn.fetch(sql, customer_id))
    finally:
        await conn.close()


async def restore_keys(pg_url: str, rows: list[asyncpg.Record]) -> None:
    """COPY `rows` back into customer_keys with every trigger of the table disabled."""
    conn = await asyncpg.connect(pg_url)
    try:
        async with conn.transaction():
            await conn.execute("ALTER TABLE customer_keys DISABLE TRIGGER ALL")
            await conn.copy_records_to_table(
                "customer_keys",
                records=[tuple(row.values()) for row in rows],
                columns=list(rows[0].keys()),
            )
            await conn.execute("ALTER TABLE customer_keys ENABLE TRIGGER ALL")
    finally:
        await conn.close()


async def drop_keys(pg_url: str, customer_id: str) -> int:
    """Delete the customer's key rows (what the erasure did); how many there were."""
    conn = await asyncpg.connect(pg_url)
    try:
        status = await conn.execute(
            "DELETE FROM customer_keys WHERE customer_id = $1::uuid", customer_id
        )
        return int(status.split()[-1])
    finally:
        await conn.close()
