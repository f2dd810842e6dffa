"""The PostgreSQL event store: appends with optimistic concurrency, grouped into shared commits,
over the commit-ordered log (event_log) it reads.
"""

import asyncio
import logging
from collections.abc import Collection, Sequence
from dataclasses import replace
from functools import partial
from uuid import UUID, uuid4

import asyncpg
import orjson

from shared.contracts.envelope import EventMetadata
from shared.contracts.events import DomainEvent, stock_stream_id
from shared.contracts.serialization import EventSerializer
from shared.plumbing.tracing import enabled, links_to, span

from ..application.ports import (
    AppendResult,
    EmailClaim,
    ErasureRequest,
    IdempotencyRecord,
    StoredResponse,
    StoredStream,
    SubjectErased,
    TrackingChanged,
)
from .append_sql import (
    CREATED,
    HeldBack,
    claim_emails,
    insert_arguments,
    positions,
    remember,
    translate,
)
from .blind_index import BlindIndex
from .customer_keys import CustomerKeys, key_made_already, refused_as_erased
from .erasure_sql import any_erased, erase, lock_customers
from .event_log import Notifier, PostgresEventLog, postgres_call
from .group_commit import GroupCommit, PendingAppend
from .sealing import Sealing

log = logging.getLogger(__name__)


async def init_connection(conn: asyncpg.Connection) -> None:
    """jsonb travels as Python objects, encoded and decoded with orjson."""
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda value: orjson.dumps(value).decode(),
        decoder=orjson.loads,
        schema="pg_catalog",
    )


async def keep_session(conn: asyncpg.Connection) -> None:
    """What a connection back in the pool needs besides asyncpg's own rollback: nothing.

    asyncpg's default sends `pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL` on
    every release, a round trip for each append, NOTIFY and relay read. This pool's sessions
    never take those: session advisory locks and LISTEN live on PostgresLeadership's own
    connection, migrations lock per transaction, and nothing SETs a session variable or holds
    a cursor past its transaction.
    """


@postgres_call
async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 20) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=init_connection,
        reset=keep_session,
        command_timeout=30,
    )
    assert pool is not None
    return pool


# What fails a group commit because of one of its appends: each is then committed alone.
_RETRIES_ALONE = (asyncpg.UniqueViolationError, asyncpg.CheckViolationError, HeldBack)


class PostgresEventStore(PostgresEventLog):
    """The event store over one asyncpg pool: the log's reads, and appends to it, with the
    personal values of events sealed under their customer's key (see Sealing) and emails
    claimed by their blind index."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        serializer: EventSerializer | None = None,
        *,
        keys: CustomerKeys,
        index: BlindIndex,
        max_in_flight: int = 2,
    ) -> None:
        super().__init__(pool)
        self._serializer = serializer or EventSerializer()
        self._sealing = Sealing(keys, self._serializer)
        self.keys, self.index = keys, index
        self._notifier = Notifier(pool)
        self._group = GroupCommit(self._commit, max_in_flight=max_in_flight)

    @postgres_call
    async def load(self, stream_id: UUID, after_version: int = 0) -> StoredStream:
        rows = await self._pool.fetch(
            "SELECT event_id, stream_type, event_type, schema_version, data FROM events"
            " WHERE stream_id = $1 AND version > $2 ORDER BY version",
            stream_id,
            after_version,
        )
        if not rows:
            return StoredStream(stream_type=None, events=[])
        stream_type = rows[0]["stream_type"]
        events = await self._sealing.open(stream_type, stream_id, rows)
        return StoredStream(stream_type=stream_type, events=events)

    @postgres_call
    async def append(
        self,
        *,
        stream_type: str,
        stream_id: UUID,
        expected_version: int,
        events: Sequence[DomainEvent],
        metadata: EventMetadata,
        email: EmailClaim | None = None,
        idempotency: IdempotencyRecord | None = None,
        untracked: Sequence[UUID] = (),
        erasure: ErasureRequest | None = None,
    ) -> AppendResult:
        if not events:
            raise ValueError("an append needs at least one event")
        if erasure is not None and erasure.customer_id != stream_id:
            raise ValueError("an erasure is appended to its customer's own stream")
        event_ids = [uuid4() for _ in events]
        seal = partial(
            self._sealing.seal,
            stream_type=stream_type,
            stream_id=stream_id,
            expected_version=expected_version,
            events=events,
            event_ids=event_ids,
        )
        sealed = await seal()
        pending = PendingAppend(
            stream_type=stream_type,
            stream_id=stream_id,
            expected_version=expected_version,
            metadata=metadata.model_dump_json(exclude_none=True),
            traceparent=metadata.traceparent,
            event_ids=event_ids,
            event_types=[e.event_type() for e in events],
            schema_versions=[e.schema_version for e in events],
            data=sealed.data,
            email=None if email is None else self._blind(email),
            idempotency=idempotency,
            untracked=untracked,
            subjects=sealed.subjects,
            new_key=sealed.new_key,
            erasure=erasure,
        )
        attributes: dict[str, str | int] | None = None
        if enabled():  # built only for a span that records: every command comes this way
            attributes = {"ordering.stream_type": stream_type, "ordering.stream_id": str(stream_id)}
            attributes["ordering.events"] = len(events)
        with span("event_store append", attributes=attributes):
            try:
                result = await self._group.submit(pending)
            except asyncpg.UniqueViolationError as exc:
                if sealed.new_key is None or not key_made_already(exc):
                    raise
                # Sealed again under the key the customer has, the append is tried once more.
                sealed = await seal(registering=False)
                again = asyncio.get_running_loop().create_future()
                pending = replace(pending, data=sealed.data, new_key=None, done=again)
                result = await self._group.submit(pending)
        if sealed.new_key is not None:  # committed: the registered customer's key is used next
            self.keys.keep(sealed.new_key[0], sealed.new_key[1].cipher)
        if erasure is not None:
            self.keys.forget(erasure.customer_id)
        self._notifier.poke()
        return result

    def _blind(self, email: EmailClaim) -> EmailClaim:
        """The claim by blind index: the table never holds an email."""
        release = None if email.release is None else self.index.email(email.release)
        return EmailClaim(claim=self.index.email(email.claim), release=release)

    async def _commit(self, batch: list[PendingAppend]) -> None:
        """Commit a batch of appends: one transaction for all, or one each after a conflict.

        A conflict (a taken version, email or idempotency key, a SKU taken as untracked that is
        tracked) rolls the whole batch back; each append then runs alone, so that only the one
        that conflicts fails. Any other error of the batch goes up, and GroupCommit fails every
        append of it. Its span links the commands of every append it holds.
        """
        links = links_to(item.traceparent for item in batch)
        with span("event_store commit", attributes={"ordering.appends": len(batch)}, links=links):
            await self._commit_batch(batch)

    async def _commit_batch(self, batch: list[PendingAppend]) -> None:
        if len(batch) > 1:
            try:
                appended = await self._insert(batch)
            except _RETRIES_ALONE:
                pass  # one by one, below
            else:
                for item in batch:
                    item.succeed(appended[item.stream_id, item.version])
                return
        for item in batch:
            try:
                appended = await self._insert([item])
                item.succeed(appended[item.stream_id, item.version])
            except asyncpg.UniqueViolationError as exc:
                item.fail(translate(exc))
            except asyncpg.CheckViolationError as exc:
                item.fail(
                    SubjectErased("the customer was erased") if refused_as_erased(exc) else exc
                )
            except HeldBack:
                item.fail(await self._held_back(item))
            except Exception as exc:  # noqa: BLE001 - handed to the caller waiting for it
                item.fail(exc)

    async def _held_back(self, item: PendingAppend) -> Exception:
        """Which guard held an append back: an erased customer's, else the tracking one's."""
        try:
            if item.subjects and await any_erased(self._pool, list(item.subjects)):
                return SubjectErased("the customer whose data this holds was erased")
        except Exception as exc:  # noqa: BLE001 - handed to the caller waiting for it
            return exc
        return TrackingChanged()

    async def _insert(self, batch: list[PendingAppend]) -> dict[tuple[UUID, int], int]:
        """Every append of the batch (one or more) in one transaction, with the emails it claims,
        the idempotency keys it records and the erasures it journals; the position of each event
        by (stream, version). HeldBack, and nothing written, when the insert's guards held its
        rows back."""
        statement, arguments = insert_arguments(batch)
        rows = sum(len(item.event_ids) for item in batch)
        emails = [(i.stream_id, i.email) for i in batch if i.email is not None]
        remembered = [i for i in batch if i.idempotency is not None]
        erasures = [i for i in batch if i.erasure is not None]
        if not emails and not remembered and not erasures:
            return positions(await self._pool.fetch(statement, *arguments), rows)
        async with self._pool.acquire() as conn, conn.transaction():
            if erasures:
                await lock_customers(conn, [i.stream_id for i in erasures])
            if emails:
                await claim_emails(conn, emails)
            # raised inside the transaction: the claims above are rolled back with it
            appended = positions(await conn.fetch(statement, *arguments), rows)
            if remembered:
                await remember(conn, [(i, appended[i.stream_id, i.version]) for i in remembered])
            if erasures:
                await erase(conn, [(i, appended[i.stream_id, i.version]) for i in erasures])
            return appended

    @postgres_call
    async def tracked_skus(self, skus: Collection[str]) -> set[str]:
        """Those of `skus` that have a stock item (its stream has a first event)."""
        streams = {stock_stream_id(sku): sku for sku in skus}
        rows = await self._pool.fetch(
            "SELECT stream_id FROM events WHERE stream_id = ANY($1::uuid[]) AND version = 1",
            list(streams),
        )
        return {streams[row["stream_id"]] for row in rows}

    @postgres_call
    async def stream_type_of(self, stream_id: UUID) -> str | None:
        """The type of a stream, from its first event; None when it does not exist."""
        value = await self._pool.fetchval(
            "SELECT stream_type FROM events WHERE stream_id = $1 AND version = 1", stream_id
        )
        return None if value is None else str(value)

    async def close(self) -> None:
        await self._notifier.close()

    @postgres_call
    async def find_response(self, key: str) -> StoredResponse | None:
        row = await self._pool.fetchrow(
            "SELECT fingerprint, status_code = $2 AS created, stream_id, version, position"
            " FROM idempotency_keys WHERE key = $1",
            key,
            CREATED,
        )
        return None if row is None else StoredResponse(**dict(row))
