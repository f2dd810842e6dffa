"""The PostgreSQL event store: concurrency, uniqueness, idempotency, commit-order reads."""

import asyncio
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest

from services.write.adapters import event_log
from services.write.adapters.migrations import MIGRATIONS, migrate
from services.write.adapters.postgres import PostgresEventStore, create_pool
from services.write.application.ports import (
    AppendResult,
    EmailClaim,
    IdempotencyKeyTaken,
    IdempotencyRecord,
    LogHead,
    Unavailable,
)
from services.write.domain.errors import ConcurrencyError, DuplicateEmail
from shared.contracts.envelope import START, EventMetadata
from shared.contracts.events import CustomerRegistered, CustomerRenamed
from tests.stores import event_store

META = EventMetadata(correlation_id="c1")


async def register(
    store: PostgresEventStore, address: str = "a@x.io", **kw: Any
) -> tuple[UUID, AppendResult]:
    stream_id = uuid4()
    result = await store.append(
        stream_type="customer",
        stream_id=stream_id,
        expected_version=0,
        events=[CustomerRegistered(name="A", email=address)],
        metadata=META,
        **kw,
    )
    return stream_id, result


async def test_append_load_and_version_conflict(store: PostgresEventStore) -> None:
    stream_id, first = await register(store)
    events = [CustomerRenamed(name="B"), CustomerRenamed(name="C")]
    result = await store.append(
        stream_type="customer",
        stream_id=stream_id,
        expected_version=1,
        events=events,
        metadata=META,
    )
    assert result.version == 3 and result.position == first.position + 2
    loaded = await store.load(stream_id)
    assert loaded.stream_type == "customer" and len(loaded.events) == 3
    assert loaded.events[-1] == CustomerRenamed(name="C")
    with pytest.raises(ConcurrencyError):
        await store.append(
            stream_type="customer",
            stream_id=stream_id,
            expected_version=2,
            events=[CustomerRenamed(name="D")],
            metadata=META,
        )
    assert len((await store.load(stream_id)).events) == 3
    assert len((await store.load(stream_id, after_version=2)).events) == 1
    assert (await store.load(uuid4())).stream_type is None


async def test_email_uniqueness_in_the_append_transaction(store: PostgresEventStore) -> None:
    await register(store, "a@x.io", email=EmailClaim(claim="a@x.io"))
    with pytest.raises(DuplicateEmail):
        await register(store, "A@x.io", email=EmailClaim(claim="a@x.io"))
    # the refused append left no event behind
    rows = await store.read_all(START, 100)
    assert len(rows) == 1


async def test_idempotency_record_is_stored_with_the_append(store: PostgresEventStore) -> None:
    record = IdempotencyRecord(key="k", fingerprint="f", created=True)
    stream_id, result = await register(store, idempotency=record)
    stored = await store.find_response("k")
    assert stored is not None
    assert (stored.stream_id, stored.version, stored.position) == (stream_id, 1, result.position)
    assert stored.created, "the append created its stream, and the store says so"
    with pytest.raises(IdempotencyKeyTaken):
        await register(store, "b@x.io", idempotency=record)
    assert len(await store.read_all(START, 100)) == 1


async def test_migrations_are_safe_when_replicas_start_together(pg_database: str) -> None:
    conns = [await asyncpg.connect(pg_database) for _ in range(4)]
    try:
        applied = await asyncio.gather(*(migrate(c) for c in conns))
    finally:
        for conn in conns:
            await conn.close()
    assert sorted(len(a) for a in applied) == [0, 0, 0, len(MIGRATIONS)]


async def test_feed_pages_in_commit_order(store: PostgresEventStore) -> None:
    for i in range(7):
        await register(store, f"u{i}@x.io")
    seen: list[int] = []
    cursor = START
    while page := await store.read_all(cursor, 3):
        seen.extend(e.position for e in page)
        cursor = page[-1].cursor
    assert seen == sorted(seen) and len(seen) == 7
    assert await store.count_outgoing(START) == 7
    assert await store.count_outgoing(cursor) == 0


async def test_the_http_feed_pages_the_log_with_cursors_and_knows_its_head(
    store: PostgresEventStore,
) -> None:
    assert await store.head() == LogHead(cursor=START, position=0)
    empty = await store.read_page(START, 10)
    assert empty.events == [] and empty.next == START
    for i in range(5):
        await register(store, f"page{i}@x.io")
    first = await store.read_page(START, 3)
    rest = await store.read_page(first.next, 3)
    positions = [row["position"] for row in [*first.events, *rest.events]]
    assert len(positions) == 5 and positions == sorted(positions)
    assert not any("transaction_id" in row for row in first.events)  # the cursor holds it
    assert (await store.read_page(rest.next, 3)).events == []
    head = await store.head()
    assert head.cursor == rest.next and head.position == positions[-1]


async def test_a_closed_pool_is_an_unavailable_store(pg_database: str) -> None:
    pool = await create_pool(pg_database, min_size=1, max_size=1)
    store = event_store(pool)
    await pool.close()
    with pytest.raises(Unavailable):
        await store.ping(timeout=1)
    with pytest.raises(Unavailable):
        await store.read_page(START, 10)
    with pytest.raises(Unavailable):
        await register(store, "closed@x.io")
    await store.close()


async def test_feed_and_head_walk_the_commit_order_index_without_sorting(
    store: PostgresEventStore, pg_database: str
) -> None:
    """A page of the log costs its own rows: sorting would read the whole rest of the log."""
    for i in range(5):
        await register(store, f"plan{i}@x.io")
    conn = await asyncpg.connect(pg_database)
    try:
        async with conn.transaction():
            # only an index walk or an explicit Sort can give the order: make any other plan lose
            for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
                await conn.execute(f"SET LOCAL {setting} = off")
            page = await conn.fetch(f"EXPLAIN {event_log._READ_ALL}", "0", 0, 100, 0)
            head = await conn.fetch(f"EXPLAIN {event_log._HEAD_AND_HIGHEST}")
    finally:
        await conn.close()
    for plan in (page, head):
        text = "\n".join(row[0] for row in plan)
        assert "events_commit_order" in text and "Sort" not in text, text


async def test_a_later_position_committed_first_is_not_skipped(
    store: PostgresEventStore, pg_database: str
) -> None:
    """Two open transactions: the higher position commits first; the reader skips neither."""
    first, second = await asyncpg.connect(pg_database), await asyncpg.connect(pg_database)
    insert = (
        "INSERT INTO events (event_id, stream_type, stream_id, version, event_type,"
        " schema_version, data) VALUES ($1, 'customer', $2, 1, 'CustomerRegistered', 1,"
        ' \'{"name": "A", "email": "a@x.io"}\') RETURNING position'
    )
    try:
        tx_low, tx_high = first.transaction(), second.transaction()
        await tx_low.start()
        low = await first.fetchval(insert, uuid4(), uuid4())
        await tx_high.start()
        high = await second.fetchval(insert, uuid4(), uuid4())
        assert high > low
        await tx_high.commit()
        # the higher position is committed, but the lower one may still commit: hold it back
        assert await store.read_all(START, 100) == []
        await tx_low.commit()
    finally:
        await first.close()
        await second.close()
    assert [e.position for e in await store.read_all(START, 100)] == [low, high]


async def test_concurrent_appends_share_commits_and_only_conflicts_fail(
    store: PostgresEventStore,
) -> None:
    """Appends queued behind a commit go together; a conflict among them fails alone."""
    grouped = event_store(store.pool, max_in_flight=1)
    taken, _ = await register(grouped, "taken@x.io", email=EmailClaim(claim="taken@x.io"))
    await grouped.append(
        stream_type="customer",
        stream_id=taken,
        expected_version=1,
        events=[CustomerRenamed(name="B")],
        metadata=META,
        idempotency=IdempotencyRecord(key="used", fingerprint="f", created=False),
    )

    def rename(stream_id: UUID, expected: int, **kw: Any) -> Any:
        events = [CustomerRenamed(name="C"), CustomerRenamed(name="D")]
        return grouped.append(
            stream_type="customer",
            stream_id=stream_id,
            expected_version=expected,
            events=events,
            metadata=META,
            **kw,
        )

    fresh = [
        register(grouped, f"n{i}@x.io", email=EmailClaim(claim=f"n{i}@x.io")) for i in range(20)
    ]
    outcomes = await asyncio.gather(
        *fresh[:10],
        rename(taken, 1),  # version 2 is taken
        register(grouped, "TAKEN@x.io", email=EmailClaim(claim="taken@x.io")),
        rename(taken, 2, idempotency=IdempotencyRecord("used", "f", created=False)),
        rename(taken, 2),  # the good one
        *fresh[10:],
        return_exceptions=True,
    )
    errors = [type(o) for o in outcomes if isinstance(o, Exception)]
    assert sorted(e.__name__ for e in errors) == [
        "ConcurrencyError",
        "DuplicateEmail",
        "IdempotencyKeyTaken",
    ]
    assert isinstance(outcomes[10], ConcurrencyError)
    assert isinstance(outcomes[11], DuplicateEmail)
    assert isinstance(outcomes[12], IdempotencyKeyTaken)
    good = outcomes[13]
    assert isinstance(good, AppendResult) and good.version == 4

    rows = await store.read_all(START, 1000)
    assert len(rows) == 2 + 20 + 2  # the setup, the fresh streams, the good rename
    by_stream: dict[UUID, list[int]] = {}
    for row in rows:
        by_stream.setdefault(row.stream_id, []).append(row.version)
    assert by_stream[taken] == [1, 2, 3, 4]
    assert all(v == [1] for s, v in by_stream.items() if s != taken)
    # every successful append reported the position its last event got
    reported = {o[1].position for o in outcomes if isinstance(o, tuple)}
    assert reported <= {r.position for r in rows}
    assert good.position == max(r.position for r in rows if r.stream_id == taken)
    emails = await store.pool.fetchval("SELECT count(*) FROM customer_emails")
    assert emails == 21

    # without a conflict, appends queued together share one transaction
    after = rows[-1]
    await asyncio.gather(*(register(grouped, f"m{i}@x.io") for i in range(10)))
    cursor = after.cursor
    later = await store.read_all(cursor, 1000)
    assert len(later) == 10
    assert len({r.transaction_id for r in later}) == 1


async def test_an_append_cancelled_before_its_turn_writes_nothing(
    store: PostgresEventStore,
) -> None:
    grouped = event_store(store.pool, max_in_flight=1)
    kept = asyncio.create_task(register(grouped, "kept@x.io"))
    dropped = asyncio.create_task(register(grouped, "dropped@x.io"))
    await asyncio.sleep(0)  # both queued; the commit has not started yet
    dropped.cancel()
    stream_id, _ = await kept
    with pytest.raises(asyncio.CancelledError):
        await dropped
    rows = await store.read_all(START, 100)
    assert [r.stream_id for r in rows] == [stream_id]
