"""`make encrypt-history` on the real PostgreSQL: events an older version stored clear (written
here with its SQL, before migration 3), sealed in place, resumably, and rewritten only once."""

from typing import Any
from uuid import UUID, uuid4

import asyncpg
import orjson
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.write.adapters.blind_index import BlindIndex
from services.write.adapters.keys import LocalKeyWrapper
from services.write.adapters.migrations import MIGRATIONS, migrate
from services.write.adapters.postgres import create_pool
from services.write.bootstrap import event_store
from services.write.entrypoints.encrypt_history import encrypt_history, main
from services.write.settings import WriteSettings
from shared.contracts.events import EVENT_TYPES, DomainEvent
from shared.contracts.personal import clear_values, is_sealed, subject_of, unseal
from tests.auth import pii_settings

ADDRESS = {"line1": "1 Main St", "city": "Leeds", "postal_code": "LS1 1AA", "country": "GB"}
ROWS = "SELECT * FROM events ORDER BY position"


@pytest.fixture
def settings(pg_database: str) -> WriteSettings:
    return WriteSettings(database_url=pg_database, **pii_settings())


class OldVersion:
    """Writes events as the version before sealing did: its schema, its plain INSERTs."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.versions: dict[UUID, int] = {}

    async def schema(self) -> None:
        await self.conn.execute(
            "CREATE TABLE schema_migrations (version integer PRIMARY KEY,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for version, sql in MIGRATIONS[:2]:
            await self.conn.execute(sql)
            await self.conn.execute("INSERT INTO schema_migrations VALUES ($1)", version)

    async def append(self, stream_type: str, stream: UUID, event_type: str, **data: Any) -> None:
        version = self.versions[stream] = self.versions.get(stream, 0) + 1
        await self.conn.execute(
            "INSERT INTO events (event_id, stream_type, stream_id, version, event_type,"
            " schema_version, data, metadata) VALUES ($1, $2, $3, $4, $5, 1, $6::jsonb,"
            " $7::jsonb)",
            uuid4(),
            stream_type,
            stream,
            version,
            event_type,
            orjson.dumps(data).decode(),
            '{"correlation_id": "old"}',
        )

    async def customer(self, name: str, email: str) -> UUID:
        customer = uuid4()
        await self.append("customer", customer, "CustomerRegistered", name=name, email=email)
        await self.conn.execute(
            "INSERT INTO customer_emails (email, customer_id) VALUES ($1, $2)", email, customer
        )
        return customer

    async def order(self, customer: UUID) -> UUID:
        order = uuid4()
        line = {"sku": "OLD-1", "name": "Kettle", "quantity": 1, "unit_price": "20.00"}
        await self.append(
            "order",
            order,
            "OrderPlaced",
            customer_id=str(customer),
            items=[line],
            shipping_address=ADDRESS,
            currency="EUR",
            total="20.00",
        )
        await self.append("order", order, "OrderConfirmed")
        return order


async def old_history(conn: asyncpg.Connection) -> tuple[UUID, UUID]:
    """Two customers' histories, clear: Ada's (3 events and an order) and Bob's (2 events)."""
    old = OldVersion(conn)
    await old.schema()
    ada = await old.customer("Ada Lovelace", "ada@example.com")
    await old.append("customer", ada, "CustomerRenamed", name="Ada King")
    await old.append(
        "customer",
        ada,
        "CustomerEmailChanged",
        old_email="ada@example.com",
        new_email="ada.king@example.com",
    )
    await old.order(ada)
    bob = await old.customer("Bob Marley", "bob@example.com")
    await old.order(bob)
    return ada, bob


async def loaded(settings: WriteSettings, stream: UUID) -> list[DomainEvent]:
    """A stream's events as the write service's event store loads them."""
    pool = await create_pool(settings.dsn, min_size=1, max_size=2)
    try:
        return list((await event_store(pool, settings).load(stream)).events)
    finally:
        await pool.close()


def as_written(rows: list[asyncpg.Record], stream: UUID) -> list[DomainEvent]:
    """The events of a stream the old version wrote, as their clear rows say."""
    mine = [r for r in rows if r["stream_id"] == stream]
    return [EVENT_TYPES[r["event_type"]].model_validate_json(r["data"]) for r in mine]


def clear_left(rows: list[asyncpg.Record]) -> list[tuple[int, str]]:
    """(position, field) of every personal value still clear."""
    return [
        (row["position"], path)
        for row in rows
        for path, value in clear_values(orjson.loads(row["data"]), row["event_type"]).items()
        if isinstance(value, str)
    ]


async def opened(conn: asyncpg.Connection, settings: WriteSettings) -> list[dict[str, Any]]:
    """Every event's data opened with its customer's key from customer_keys (None: no key)."""
    wrapper = LocalKeyWrapper(settings.kek, settings.pii_kek_id)
    keys = {r["customer_id"]: r["wrapped"] for r in await conn.fetch("TABLE customer_keys")}
    found = []
    for row in await conn.fetch(ROWS):
        data, event_type = orjson.loads(row["data"]), row["event_type"]
        subject = subject_of(event_type, row["stream_type"], row["stream_id"], data)
        if subject is None:
            found.append(data)
            continue
        wrapped = keys.get(UUID(subject))
        cipher = None if wrapped is None else AESGCM(await wrapper.unwrap(UUID(subject), wrapped))
        found.append(unseal(data, event_type, cipher, subject=subject, event_id=row["event_id"]))
    return found


async def test_clear_history_is_sealed_in_place_and_opens_to_the_same_values(
    pg_database: str,
    settings: WriteSettings,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    conn = await asyncpg.connect(pg_database)
    try:
        await old_history(conn)
        before = await conn.fetch(ROWS)
        with caplog.at_level("INFO"):
            run = await encrypt_history(settings, batch_size=500)
        said = capsys.readouterr().out + "\n".join(
            f"{r.getMessage()} {vars(r)}" for r in caplog.records
        )
        assert "the one rewrite of stored events" in said and "values_sealed" in said
        assert not any(value in said for value in ("Ada", "Bob", "example.com", "Main St"))
        assert "13 values sealed" in said and "events still holding a clear value: 0" in said
        after = await conn.fetch(ROWS)
        assert run.finished and run.batches == 1
        assert (run.counts.scanned, run.counts.rewritten) == (6, 6)
        assert (run.counts.values_sealed, run.counts.keys_made) == (13, 2)
        assert clear_left(before) and clear_left(after) == []
        for old, new in zip(before, after, strict=True):
            unchanged = ("event_id", "transaction_id", "version", "metadata", "recorded_at")
            assert all(old[k] == new[k] for k in unchanged)
        assert await opened(conn, settings) == [orjson.loads(r["data"]) for r in before]
        for stream in {row["stream_id"] for row in before}:  # the write service's own load
            assert await loaded(settings, stream) == as_written(before, stream)
        sealed = orjson.loads(after[0]["data"])
        assert is_sealed(sealed["name"]) and is_sealed(sealed["email"])
        assert orjson.loads(after[3]["data"])["shipping_address"]["country"] == "GB"
        assert await conn.fetchval("SELECT count(*) FROM customer_keys") == 2

        again = await encrypt_history(settings, batch_size=500)
        assert again.finished and again.counts.rewritten == 0 and again.counts.keys_made == 0
        assert [r["data"] for r in await conn.fetch(ROWS)] == [r["data"] for r in after]
    finally:
        await conn.close()


async def test_an_interrupted_run_resumes_after_its_last_batch(
    pg_database: str, settings: WriteSettings
) -> None:
    conn = await asyncpg.connect(pg_database)
    try:
        await old_history(conn)
        first = await encrypt_history(settings, batch_size=2, max_batches=1)
        assert not first.finished and first.counts.rewritten == 2
        halfway = await conn.fetch(ROWS)
        assert [position for position, _ in clear_left(halfway)][0] == halfway[2]["position"]

        rest = await encrypt_history(settings, batch_size=2)
        assert rest.finished and rest.batches == 2
        assert (rest.counts.scanned, rest.counts.rewritten) == (4, 4)
        done = await conn.fetch(ROWS)
        assert clear_left(done) == []
        assert [r["data"] for r in done[:2]] == [r["data"] for r in halfway[:2]]
    finally:
        await conn.close()


async def test_an_erased_customers_clear_values_are_sealed_under_no_kept_key(
    pg_database: str, settings: WriteSettings
) -> None:
    conn = await asyncpg.connect(pg_database)
    try:
        ada, bob = await old_history(conn)
        await migrate(conn, index=BlindIndex(settings.index_key))  # this version's start
        await conn.execute(
            "INSERT INTO customer_erasures (customer_id, event_id, position, erased_at, fields)"
            " VALUES ($1, $2, 0, now(), '{name,email}')",
            bob,
            uuid4(),
        )
        before = await conn.fetch(ROWS)
        run = await encrypt_history(settings, batch_size=500)
        assert (run.counts.rewritten, run.counts.shredded, run.counts.keys_made) == (6, 2, 1)
        assert clear_left(await conn.fetch(ROWS)) == []
        assert await conn.fetchval("SELECT array_agg(customer_id) FROM customer_keys") == [ada]
        now = await opened(conn, settings)
        assert now[:5] == [orjson.loads(r["data"]) for r in before[:5]]
        assert now[5] == {"name": None, "email": None}
        registered = (await loaded(settings, bob))[0]
        assert (registered.name, registered.email) == (None, None)  # type: ignore[attr-defined]
        assert now[6]["shipping_address"] == {
            **dict.fromkeys(("line1", "city", "postal_code")),
            "country": "GB",
        }
    finally:
        await conn.close()


def test_the_command_refuses_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--batch-size", "0"])
    assert "--batch-size" in capsys.readouterr().err
