"""The services under test as child processes: started, awaited until ready, stopped."""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from deploy.local.settings import console_origins
from deploy.local.stack import Process, free_port, log_tail, spawn, stop_process

from .servers import Stack

ROOT = Path(__file__).resolve().parents[1]
READY_TIMEOUT = 90.0
READY = "/health/ready"
SHARED_WITH_READ = ("KAFKA_BOOTSTRAP_SERVERS", "KAFKA_ENABLE_IDEMPOTENCE", "CUSTOMERS_TOPIC")


class ServiceError(RuntimeError):
    """A service exited, or did not become ready in time."""


@dataclass
class Service:
    """A running service: its base URL, the environment it got, its log file."""

    name: str
    url: str
    env: dict[str, str]
    log: Path
    proc: Process

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        stop_process(self.proc, timeout=15)


def start_service(
    name: str, module: str, env: Mapping[str, str], *, port: int, workdir: Path, ready: str
) -> Service:
    """`python -m module` with `env`, waiting until GET `ready` answers 200."""
    log = workdir / "logs" / f"{name}-{uuid.uuid4().hex[:6]}.log"
    full_env = {**os.environ, **env}
    proc = spawn([sys.executable, "-m", module], log, cwd=ROOT, env=full_env)
    service = Service(name, f"http://127.0.0.1:{port}", full_env, log, proc)
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServiceError(f"{name} exited with code {proc.returncode}:\n{log_tail(log)}")
        try:
            if httpx.get(service.url + ready, timeout=2).status_code == 200:
                print(f"  {name}: pid {proc.pid}, {service.url}", flush=True)
                return service
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    service.stop()
    raise ServiceError(f"{name} not ready within {READY_TIMEOUT:.0f} s:\n{log_tail(log)}")


def start_write(
    stack: Stack, database_url: str, *, relay: bool = True, extra: Mapping[str, str] | None = None
) -> Service:
    """The write service over `database_url`, with topics of its own (a fresh suffix), and
    `extra` settings."""
    port, suffix = free_port(), uuid.uuid4().hex[:8]
    env = {
        "DATABASE_URL": database_url,
        "WRITE_PORT": str(port),
        "RELAY_ENABLED": "true" if relay else "false",
        "CUSTOMERS_TOPIC": f"bench.customers.{suffix}",
        "ORDERS_TOPIC": f"bench.orders.{suffix}",
        "STOCK_TOPIC": f"bench.stock.{suffix}",
        "RELAY_MARKER_TOPIC": f"bench.marker.{suffix}",
        **stack.auth_env(),
        **stack.pii_env(),
    }
    if relay:
        env["KAFKA_BOOTSTRAP_SERVERS"] = stack.url("kafka")
        if stack.embedded_kafka:  # the dev broker lacks the idempotent producer
            env["KAFKA_ENABLE_IDEMPOTENCE"] = "false"
    env |= extra or {}
    return start_service(
        "write-service", "services.write", env, port=port, workdir=stack.workdir, ready=READY
    )


def start_read(stack: Stack, write: Service, *, port: int | None = None) -> Service:
    """The read service on the write service's topics, with a database and groups of its own."""
    port, suffix = port or free_port(), uuid.uuid4().hex[:8]
    keep = (*SHARED_WITH_READ, "ORDERS_TOPIC", "STOCK_TOPIC")
    env = {key: write.env[key] for key in keep if key in write.env}
    env |= {
        "MONGODB_URL": stack.url("mongo"),
        "MONGODB_DATABASE": stack.mongo_database(f"bench_read_{suffix}"),
        "CONSUMER_GROUP_PREFIX": f"bench-{suffix}",
        "WRITE_SERVICE_URL": write.url,
        "READ_PORT": str(port),
        "KAFKA_SESSION_TIMEOUT_MS": "6000",
        **stack.auth_env(),
    }
    return start_service(
        "read-service", "services.read", env, port=port, workdir=stack.workdir, ready=READY
    )


def start_bare(stack: Stack) -> Service:
    """The bare FastAPI endpoint (bench.bare_app), served exactly like the write service."""
    port = free_port()
    env = {"BARE_PORT": str(port)}
    return start_service(
        "bare-app", "bench.bare_app", env, port=port, workdir=stack.workdir, ready="/health"
    )


@contextmanager
def running(*services: Service) -> Iterator[None]:
    """Stop the services (last started first) however the block ends."""
    try:
        yield
    finally:
        for service in reversed(services):
            service.stop()


def start_pair(
    stack: Stack, database_url: str, *, console: bool = False
) -> tuple[Service, Service]:
    """A write service with its relay, and a read service on its topics (`console`: on the
    port whose console the issuer signs in to, the write service allowing its origin)."""
    origins = {"CORS_ALLOW_ORIGINS": ",".join(console_origins(stack.console_port))}
    write = start_write(stack, database_url, extra=origins if console else None)
    try:
        return write, start_read(stack, write, port=stack.console_port if console else None)
    except BaseException:
        write.stop()
        raise
