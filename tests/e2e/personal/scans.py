"""Where values appear: every column of every table of the write service's PostgreSQL database,
every record (value and headers) of every topic of the Kafka cluster, every document of every
collection of the read service's MongoDB database, and the services' logs. Each search is
case-insensitive and on the values' text as stored."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer
from bson import json_util
from pymongo.asynchronous.database import AsyncDatabase

from tests.kafka_utils import Record, read_records
from tests.polling import poll
from tests.read_side import Doc

Hits = dict[str, set[str]]  # place (table.column, topic, collection, log) -> values found there

COLUMNS = """
SELECT c.table_schema, c.table_name, c.column_name
FROM information_schema.columns c
JOIN information_schema.tables t USING (table_catalog, table_schema, table_name)
WHERE t.table_type = 'BASE TABLE'
  AND c.table_schema NOT IN ('pg_catalog', 'information_schema')
ORDER BY 1, 2, c.ordinal_position
"""


def _like(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def found_in(text: str, values: Iterable[str]) -> set[str]:
    folded = text.casefold()
    return {v for v in values if v.casefold() in folded}


def _add(hits: Hits, place: str, values: set[str]) -> None:
    if values:
        hits.setdefault(place, set()).update(values)


async def postgres_hits(url: str, values: tuple[str, ...]) -> Hits:
    """Each column (cast to text) of each table of the database at `url` holding any of
    `values`."""
    hits: Hits = {}
    conn = await asyncpg.connect(url)
    try:
        for schema, table, column in await conn.fetch(COLUMNS):
            name = f'"{schema}"."{table}"'
            cell = f'"{column}"::text'
            for value in values:
                query = f"SELECT EXISTS (SELECT 1 FROM {name} WHERE {cell} ILIKE $1)"
                if await conn.fetchval(query, _like(value)):
                    _add(hits, f"{schema}.{table}.{column}", {value})
    finally:
        await conn.close()
    return hits


async def topics(bootstrap: str) -> list[str]:
    """Every topic the cluster's metadata lists."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        return sorted(await consumer.topics())
    finally:
        await consumer.stop()


async def kafka_records(bootstrap: str, event_ids: set[str]) -> list[Record]:
    """Every record of every topic from the earliest offset, once the records of `event_ids`
    (their `ce_id`) are among them."""
    names = await topics(bootstrap)
    records: list[Record] = []

    async def complete() -> bool:
        nonlocal records
        records = await read_records(bootstrap, names, expected=len(event_ids))
        return event_ids <= {r.headers.get("ce_id", "") for r in records}

    def missing() -> object:
        return sorted(event_ids - {r.headers.get("ce_id", "") for r in records})

    await poll(complete, f"the records of {len(event_ids)} events", timeout=90, seen=missing)
    return records


def kafka_hits(records: list[Record], values: tuple[str, ...]) -> Hits:
    hits: Hits = {}
    for r in records:
        place = f"kafka {r.topic}[{r.partition}]@{r.offset}"
        _add(hits, f"{place} value", found_in(r.value.decode(errors="replace"), values))
        headers = " ".join(f"{k}={v}" for k, v in r.header_list) + f" key={r.key}"
        _add(hits, f"{place} headers", found_in(headers, values))
    return hits


async def mongo_hits(db: AsyncDatabase[Doc], values: tuple[str, ...]) -> Hits:
    """Each collection of `db` with a document whose JSON text holds any of `values`."""
    hits: Hits = {}
    for name in sorted(await db.list_collection_names()):
        async for doc in db[name].find({}):
            _add(hits, f"mongodb {name}", found_in(json_util.dumps(doc), values))
    return hits


def log_hits(logs: Iterable[Path], values: tuple[str, ...]) -> Hits:
    hits: Hits = {}
    for log in logs:
        _add(hits, f"log {log.name}", found_in(log.read_text(errors="replace"), values))
    return hits


@dataclass
class Places:
    """Everywhere the system may keep a value: the write database, the cluster's topics, the
    read database and the logs of the services (and of the operator commands run)."""

    pg_url: str
    bootstrap: str
    read_db: AsyncDatabase[Doc]
    logs: list[Path]
    outputs: list[str] = field(default_factory=list)  # what operator commands printed

    async def hits(self, values: tuple[str, ...], event_ids: set[str]) -> dict[str, Hits]:
        """Where each of `values` appears, by kind of place; the topics are read once the
        records of `event_ids` are there."""
        records = await kafka_records(self.bootstrap, event_ids)
        logs = log_hits(self.logs, values)
        for i, output in enumerate(self.outputs):
            _add(logs, f"operator command {i}", found_in(output, values))
        return {
            "postgresql": await postgres_hits(self.pg_url, values),
            "kafka": kafka_hits(records, values),
            "mongodb": await mongo_hits(self.read_db, values),
            "logs": logs,
        }


def found_anywhere(hits: Hits) -> set[str]:
    return set().union(*hits.values()) if hits else set()


def nonempty(hits: dict[str, Hits]) -> dict[str, Hits]:
    """The kinds of place where something was found."""
    return {kind: by for kind, by in hits.items() if by}


def report(hits: dict[str, Hits]) -> str:
    lines = [
        f"  {kind}: {place}: {sorted(found)}"
        for kind, by in hits.items()
        for place, found in sorted(by.items())
    ]
    return "\n".join(lines[:40]) or "  nowhere"


async def assert_nowhere(places: Places, values: tuple[str, ...], event_ids: set[str]) -> None:
    """None of `values` is anywhere, the read documents included."""
    found = nonempty(await places.hits(values, event_ids))
    assert not found, "personal values of an erased customer remain:\n" + report(found)
