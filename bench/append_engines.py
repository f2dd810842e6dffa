"""The two comparison engines of the append part: raw INSERTs (pgbench, else asyncpg) and the
eventsourcing library's PostgreSQL application recorder (sync, so one thread per writer)."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import asyncpg
import orjson

from services.write.adapters.migrations import migrate
from shared.contracts.serialization import EventSerializer

from .workload import item_added, metadata, order_placed

if TYPE_CHECKING:
    from .append import WriterStreams

SERIALIZER = EventSerializer()
_RAW_INSERT = (
    "INSERT INTO events (event_id, stream_type, stream_id, version, event_type, schema_version,"
    " data, metadata) VALUES (gen_random_uuid(), 'order', gen_random_uuid(), 1, {type}, 1,"
    " {data}, {meta})"
)
# The same insert, plus the pg_notify the event store sends with every append: NOTIFY takes a
# database-wide lock from pre-commit to the end of the commit, WAL flush included.
_RAW_INSERT_NOTIFY = (
    "WITH inserted AS (" + _RAW_INSERT + " RETURNING position)"
    " SELECT max(position), pg_notify('events_appended', '') FROM inserted"
)


@dataclass(frozen=True)
class EngineRun:
    engine: str
    events: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def _payloads() -> dict[str, str]:
    placed, added = order_placed(uuid.uuid4(), 1), item_added(2)
    return {
        "OrderPlaced": orjson.dumps(SERIALIZER.to_data(placed)).decode(),
        "OrderItemAdded": orjson.dumps(SERIALIZER.to_data(added)).decode(),
    }


def payload_sizes() -> dict[str, int]:
    return {name: len(text.encode()) for name, text in _payloads().items()}


async def checkpoint(database_url: str) -> None:
    """Flush dirty pages now, so a previous engine's writes do not slow the next one."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("CHECKPOINT")
    except asyncpg.PostgresError:
        pass  # not a superuser on a server from the environment: go on without it
    finally:
        await conn.close()


def pgbench_binary() -> str | None:
    """The embedded server's own pgbench (same major version), else one on the PATH."""
    try:
        from deploy.local.servers.postgres import _pg_install

        bundled = _pg_install()[0] / "pgbench"
        if bundled.exists():
            return str(bundled)
    except ImportError:
        pass
    return shutil.which("pgbench")


async def run_raw(
    database_url: str, *, seconds: float, writers: int, notify: bool = False
) -> EngineRun:
    """Single-row INSERTs of the same rows into the same events table, one per transaction."""
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    sql = _RAW_INSERT_NOTIFY if notify else _RAW_INSERT
    binary = pgbench_binary()
    if binary is not None:
        run = await asyncio.to_thread(_pgbench, binary, sql, database_url, seconds, writers)
    else:
        run = await _asyncpg_inserts(sql, database_url, seconds, writers)
    return EngineRun(run.engine + (" + pg_notify" if notify else ""), run.events, run.seconds)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _pgbench(binary: str, sql: str, database_url: str, seconds: float, writers: int) -> EngineRun:
    meta = _literal(orjson.dumps(metadata().model_dump(exclude_none=True)).decode())
    with tempfile.TemporaryDirectory() as tmp:
        scripts = []
        for event_type, data in _payloads().items():
            script = Path(tmp) / f"{event_type}.sql"
            text = sql.format(type=_literal(event_type), data=_literal(data), meta=meta)
            script.write_text(text + ";\n")
            scripts += ["-f", f"{script}@1"]
        command = [binary, "-n", "-c", str(writers), "-j", "2", "-M", "prepared"]
        command += ["-T", str(max(1, round(seconds))), *scripts, database_url]
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
    if done.returncode != 0:
        raise RuntimeError(f"pgbench failed ({done.returncode}):\n{done.stderr[-2000:]}")
    processed = re.search(r"actually processed: (\d+)", done.stdout)
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", done.stdout)
    if processed is None or tps is None:
        raise RuntimeError(f"could not read pgbench's output:\n{done.stdout[-2000:]}")
    events = int(processed.group(1))
    return EngineRun("raw single-row INSERT (pgbench)", events, events / float(tps.group(1)))


async def _asyncpg_inserts(sql: str, database_url: str, seconds: float, writers: int) -> EngineRun:
    sql = sql.format(type="$1", data="$2::jsonb", meta="$3::jsonb")
    meta = orjson.dumps(metadata().model_dump(exclude_none=True)).decode()
    payloads = list(_payloads().items())

    async def writer(deadline: float) -> int:
        conn, count = await asyncpg.connect(database_url), 0
        try:
            while time.perf_counter() < deadline:
                event_type, data = payloads[count % 2]
                await conn.fetch(sql, event_type, data, meta)
                count += 1
        finally:
            await conn.close()
        return count

    started = time.perf_counter()
    counts = await asyncio.gather(*(writer(started + seconds) for _ in range(writers)))
    return EngineRun("raw single-row INSERT (asyncpg)", sum(counts), time.perf_counter() - started)


class EventsourcingRecorder:
    """eventsourcing 9.5's PostgresApplicationRecorder on its own PostgresDatastore."""

    def __init__(self, database_url: str, *, pool_size: int) -> None:
        try:
            from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
        except ImportError as exc:
            raise RuntimeError(
                "the eventsourcing library is not installed: add"
                " 'eventsourcing[postgres]==9.5.6' and 'psycopg[binary]' to the dev group"
            ) from exc
        url = urlsplit(database_url)
        self.datastore = PostgresDatastore(
            dbname=url.path.lstrip("/") or "postgres",
            host=url.hostname or "127.0.0.1",
            port=url.port or 5432,
            user=unquote(url.username or "postgres"),
            password=unquote(url.password or ""),
            pool_size=pool_size,
        )
        self.recorder = PostgresApplicationRecorder(self.datastore)
        self.recorder.create_table()

    def run(self, *, writers: list[WriterStreams], seconds: float) -> EngineRun:
        counts = [0] * len(writers)
        gate = threading.Barrier(len(writers) + 1)
        deadline = [0.0]

        def work(index: int) -> None:
            from eventsourcing.persistence import StoredEvent

            streams, count = writers[index], 0
            gate.wait()
            while time.perf_counter() < deadline[0]:
                stream_id, expected, event = streams.next()
                state = orjson.dumps(SERIALIZER.to_data(event))
                stored = StoredEvent(stream_id, expected + 1, event.event_type(), state)
                self.recorder.insert_events([stored])
                streams.done(stream_id, expected + 1)
                count += 1
            counts[index] = count

        threads = [threading.Thread(target=work, args=(i,)) for i in range(len(writers))]
        for thread in threads:
            thread.start()
        self.datastore.pool.open(wait=True)
        started = time.perf_counter()
        deadline[0] = started + seconds
        gate.wait()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        return EngineRun("eventsourcing PostgresApplicationRecorder", sum(counts), elapsed)

    def close(self) -> None:
        self.datastore.close()
