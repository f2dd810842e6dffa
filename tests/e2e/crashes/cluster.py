"""The processes of the crash tests: a write service and read services that can be killed."""

import asyncio
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from uuid import uuid4

import httpx
from pymongo import AsyncMongoClient

from deploy.local.stack import LocalIssuer, free_port
from tests.auth import auth_env, bearer, pii_env, token
from tests.backends import Backend
from tests.read_side import Doc
from tests.services import ROOT, wait_ready


@dataclass
class Service:
    """One service process; restarting it keeps its env (port, database, group prefix)."""

    name: str
    module: str
    env: dict[str, str]
    log: Path
    headers: dict[str, str] = field(default_factory=dict)  # what its clients send: a token
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        port = self.env["READ_PORT" if self.module == "services.read" else "WRITE_PORT"]
        return f"http://127.0.0.1:{port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def launch(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", self.module], cwd=ROOT, env=self.env, stdout=out, stderr=out
            )
        try:
            wait_ready(self.url, self.proc, self.log, timeout=90)
        except BaseException:
            self.kill()
            raise

    def client(self) -> httpx.AsyncClient:
        """A client of its HTTP API, sending what its clients send."""
        return httpx.AsyncClient(base_url=self.url, headers=self.headers, timeout=10)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, nothing is flushed or committed."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(15)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"--- last lines of {self.name}'s log ({self.log}) ---\n" + "\n".join(
            text.splitlines()[-lines:]
        )


class Cluster:
    """A write service and read services sharing one event store and one pair of topics."""

    def __init__(
        self, *, pg_url: str, kafka: Backend, mongo: Backend, issuer: LocalIssuer, logs: Path
    ) -> None:
        suffix = uuid4().hex[:8]
        self.pg_url, self.mongo_url, self.logs = pg_url, mongo.url, logs
        self.env = {
            **os.environ,
            **auth_env(issuer),
            **pii_env(),  # one set for every write service over this store
            "DATABASE_URL": pg_url,
            "KAFKA_BOOTSTRAP_SERVERS": kafka.url,
            "KAFKA_ENABLE_IDEMPOTENCE": "false" if kafka.kind == "embedded" else "true",
            "CUSTOMERS_TOPIC": f"customers.{suffix}",
            "ORDERS_TOPIC": f"orders.{suffix}",
            "STOCK_TOPIC": f"stock.{suffix}",
            "RELAY_MARKER_TOPIC": f"marker.{suffix}",
            "KAFKA_PARTITIONS": "3",
            "RELAY_POLL_SECONDS": "0.2",
            "LOG_FORMAT": "text",
        }
        self.headers = bearer(token(issuer))  # staff: every scope
        self.write = Service("write", "services.write", {}, logs / "write.log", self.headers)
        self.readers: list[Service] = []

    async def start_write(self) -> Service:
        """The write API with its relay: it publishes whatever the store holds."""
        self.write.env = {**self.env, "WRITE_PORT": str(free_port()), "RELAY_ENABLED": "true"}
        await asyncio.to_thread(self.write.launch)
        return self.write

    async def start_read(self, name: str) -> Service:
        """A read service with a database and consumer groups of its own."""
        suffix = uuid4().hex[:8]
        env = {
            **self.env,
            "MONGODB_URL": self.mongo_url,
            "MONGODB_DATABASE": f"crash_{name}_{suffix}",
            "CONSUMER_GROUP_PREFIX": f"crash-{name}-{suffix}",
            "WRITE_SERVICE_URL": self.write.url,
            "READ_PORT": str(free_port()),
            "LAG_POLL_SECONDS": "0.2",
            "KAFKA_SESSION_TIMEOUT_MS": "6000",
            # A catch-up in many batches, so that a kill can land between two of them.
            "BATCH_MAX_RECORDS": "1000",
        }
        log = self.logs / f"read-{name}.log"
        service = Service(f"read-{name}", "services.read", env, log, self.headers)
        self.readers.append(service)
        await asyncio.to_thread(service.launch)
        return service

    def close(self) -> None:
        for service in [*self.readers, self.write]:
            service.stop()


async def drop_databases(url: str, names: list[str]) -> None:
    client: AsyncMongoClient[Doc] = AsyncMongoClient(url, serverSelectionTimeoutMS=5000)
    try:
        for name in names:
            await client.drop_database(name)
    except Exception as exc:  # noqa: BLE001 - cleanup must not mask the test's outcome
        print(f"could not drop the read databases: {exc!r}")
    finally:
        await client.close()
