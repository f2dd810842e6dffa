"""The servers integration and e2e tests talk to, whichever way they are provided.

Per server, in this order: a URL in the environment (DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS,
MONGODB_URL), testcontainers when a Docker engine answers, else the embedded stand-ins of
deploy/local/stack.py on free ports. Embedded servers start only when a test asks for them, and
all those the collected tests will need boot in parallel.
"""

from __future__ import annotations

import atexit
import importlib
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import pytest_asyncio

from deploy.local.stack import (
    PG_TEST_SETTINGS,
    LocalKafka,
    LocalMongo,
    LocalPostgres,
    LocalServer,
    free_port,
)

ENV_URLS = {"postgres": "DATABASE_URL", "kafka": "KAFKA_BOOTSTRAP_SERVERS", "mongo": "MONGODB_URL"}


class Backend:
    """One server for the tests: `url` (a bootstrap string for Kafka), `kind`, `can_restart`."""

    kind = "env"
    can_restart = False

    def __init__(self, name: str, url: str = "") -> None:
        self.name, self._url = name, url

    @property
    def url(self) -> str:
        return self._url

    def begin(self) -> None:
        """Start booting without waiting for it."""

    def wait(self) -> None:
        """Block until the server answers."""

    def stop(self) -> None:
        self._cannot("stop")

    def start(self) -> None:
        self._cannot("start")

    def close(self) -> None:
        """Release what the session started."""

    def _cannot(self, action: str) -> None:
        pytest.skip(f"the {self.name} backend ({self.kind}) cannot {action}: it is not embedded")


class ContainerBackend(Backend):
    """A testcontainers container, started in a worker thread."""

    kind = "container"

    def __init__(self, name: str, pool: ThreadPoolExecutor) -> None:
        super().__init__(name)
        self._container, self._url_of = _container(name)
        self._pool = pool
        self._started: Future[Any] | None = None

    def begin(self) -> None:
        self._started = self._pool.submit(self._container.start)

    def wait(self) -> None:
        assert self._started is not None
        self._started.result()
        self._url = self._url_of(self._container)

    def close(self) -> None:
        if self._started is not None and self._started.done() and not self._started.exception():
            self._container.stop()


class EmbeddedBackend(Backend):
    """A stand-in server from deploy/local/stack.py; restartable on the same port."""

    kind = "embedded"
    can_restart = True

    def __init__(self, name: str, server: LocalServer) -> None:
        super().__init__(name)
        self.server = server
        self.answered = False  # whether a test has had it running
        self._error: Exception | None = None

    @property
    def url(self) -> str:
        return self.server.url

    def begin(self) -> None:
        try:
            self.server.spawn()
        except Exception as error:  # reported by wait(), to the test that asked for this server
            self._error = error

    def wait(self) -> None:
        if self._error is not None:
            raise self._error
        self.server.wait_ready()
        self.answered = True

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> None:
        self.server.start()

    def close(self) -> None:
        self.server.stop()


def docker_answers() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # no SDK, no socket, no daemon: all mean "no Docker"
        return False


def _container(name: str) -> tuple[Any, Callable[[Any], str]]:
    def load(module: str, cls: str) -> Any:
        try:  # testcontainers >= 4.13 moved the modules and warns on the old paths
            return getattr(importlib.import_module(f"testcontainers.community.{module}"), cls)
        except ImportError:
            return getattr(importlib.import_module(f"testcontainers.{module}"), cls)

    if name == "postgres":
        pg = load("postgres", "PostgresContainer")("postgres:17", driver=None)
        pg.with_command(" ".join(f"-c {key}={value}" for key, value in _pg_settings().items()))
        return pg, lambda c: str(c.get_connection_url())
    if name == "kafka":
        return load("kafka", "KafkaContainer")().with_kraft(), lambda c: c.get_bootstrap_server()
    return load("mongodb", "MongoDbContainer")("mongo:8"), lambda c: str(c.get_connection_url())


def _pg_settings() -> dict[str, str]:
    return {"max_connections": "200", **PG_TEST_SETTINGS}


class Backends:
    """Makes each backend on first use, beginning with it those the session will need later."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._made: dict[str, Backend] = {}
        self._docker: bool | None = None
        self._pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="containers")
        self._pg_dir: Path | None = None

    def get(self, name: str, session: pytest.Session) -> Backend:
        if name not in self._made:
            wanted = {name} | {
                other
                for item in session.items
                for other in ENV_URLS
                if other in getattr(item, "fixturenames", ())
            }
            for other in sorted(wanted - self._made.keys()):
                self._made[other] = self._make(other)
                self._made[other].begin()
        backend = self._made[name]
        backend.wait()
        return backend

    def revive(self) -> None:
        """Start again any embedded server a test stopped and did not start."""
        for backend in self._made.values():
            if isinstance(backend, EmbeddedBackend) and backend.answered:
                if not backend.server.running:  # never a server that failed to boot
                    backend.start()

    def close(self) -> None:
        for backend in self._made.values():
            backend.close()
        self._made.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._pg_dir is not None:
            shutil.rmtree(self._pg_dir, ignore_errors=True)
            self._pg_dir = None

    def _make(self, name: str) -> Backend:
        if url := os.environ.get(ENV_URLS[name]):
            return Backend(name, url)
        if self._docker is None:
            self._docker = docker_answers()
        if self._docker:
            return ContainerBackend(name, self._pool)
        return EmbeddedBackend(name, self._embedded(name))

    def _embedded(self, name: str) -> LocalServer:
        port, log_path = free_port(), self.workdir / "logs" / f"{name}.log"
        if name == "kafka":
            return LocalKafka(port=port, log_path=log_path)
        if name == "mongo":
            return LocalMongo(
                self.workdir / "mongo", port=port, log_path=log_path, cache_size="256M"
            )
        # Not under pytest's basetemp: every pytest run re-tightens that to 0700, which would lock
        # the unprivileged postgres user of a concurrent run out of its data directory.
        self._pg_dir = Path(tempfile.mkdtemp(prefix="pytest-postgres-"))
        data_dir = self._pg_dir / "data"
        return LocalPostgres(data_dir, port=port, log_path=log_path, settings=_pg_settings())


def with_database(url: str, database: str) -> str:
    """The same server URL, pointing at another database."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


@pytest.fixture(scope="session")
def backends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backends]:
    registry = Backends(tmp_path_factory.mktemp("backends"))
    atexit.register(registry.close)  # also when the session ends without tearing down
    try:
        yield registry
    finally:
        registry.close()


@pytest.fixture(autouse=True)
def revive_stopped_servers(backends: Backends) -> Iterator[None]:
    """A test that stops a server and fails before starting it must not break the next ones."""
    yield
    backends.revive()


@pytest.fixture(scope="session")
def postgres(backends: Backends, request: pytest.FixtureRequest) -> Backend:
    return backends.get("postgres", request.session)


@pytest.fixture(scope="session")
def kafka(backends: Backends, request: pytest.FixtureRequest) -> Backend:
    return backends.get("kafka", request.session)


@pytest.fixture(scope="session")
def mongo(backends: Backends, request: pytest.FixtureRequest) -> Backend:
    return backends.get("mongo", request.session)


@pytest_asyncio.fixture
async def pg_database(postgres: Backend) -> AsyncIterator[str]:
    """A fresh database of its own for one test; its URL."""
    name = f"test_{uuid.uuid4().hex}"
    await _execute(postgres.url, f'CREATE DATABASE "{name}"')
    yield with_database(postgres.url, name)
    await _execute(postgres.url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _execute(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()
