"""`make run` / `make infra`: the embedded stack, and for `all` both services, in the foreground.

Usage: python -m deploy.local.run all|infra. State lives in .local/ (kept across runs; another
folder with LOCAL_STATE_DIR); Ctrl-C stops the services first, then the servers. While the stack
runs, .local/stack.env says how to reach it: the Makefile's other targets read it, so that they
work from a second shell with no environment of their own."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from deploy.local.stack import (
    LocalIssuer,
    LocalKafka,
    LocalMongo,
    LocalPostgres,
    LocalServer,
    PortInUseError,
    Process,
    ServerStartError,
    ensure_port_free,
    log_tail,
    spawn,
    stop_process,
)

ROOT = Path(__file__).resolve().parents[2]
STATE = ROOT / os.environ.get("LOCAL_STATE_DIR", ".local")
LOGS = STATE / "logs"
STACK_ENV = STATE / "stack.env"
DEFAULT_PORTS = {
    "POSTGRES_PORT": 5432,
    "KAFKA_PORT": 9092,
    "MONGODB_PORT": 27017,
    "WRITE_PORT": 8001,
    "READ_PORT": 8002,
    "ISSUER_PORT": 8003,
}
AUDIENCE = "ordering"
READY_TIMEOUT = 90.0


class Shutdown(Exception):
    """A SIGINT or SIGTERM asked us to stop."""


class _Signals:
    # The handler raises to unwind a wait, except while a child is being spawned: an exception
    # there could lose track of a process that has already started.
    def __init__(self) -> None:
        self.pending: int | None = None
        self.deferring = 0

    def install(self) -> None:
        signal.signal(signal.SIGINT, self._handle)
        signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self.pending = signum
        if not self.deferring:
            raise Shutdown

    @contextmanager
    def deferred(self) -> Iterator[None]:
        self.deferring += 1
        try:
            yield
        finally:
            self.deferring -= 1
        if self.pending is not None and not self.deferring:
            raise Shutdown


@dataclass
class Service:
    """One of our HTTP services running as a child process."""

    name: str
    module: str
    port: int
    port_env: str
    proc: Process | None = None
    started_at: float = 0.0
    log_start: int = 0  # where this run's output begins in the (appended) log

    @property
    def log_path(self) -> Path:
        return LOGS / f"{self.name}.log"

    def healthy(self) -> bool:
        url = f"http://127.0.0.1:{self.port}/health/live"
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return bool(response.status == 200)
        except OSError:  # refused, reset, timeout, HTTP error: not live yet
            return False


def read_ports(env: dict[str, str]) -> dict[str, int]:
    ports = {}
    for name, default in DEFAULT_PORTS.items():
        raw = env.get(name, str(default))
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            raise SystemExit(f"{name}={raw!r} is not a port number")
        ports[name] = int(raw)
    return ports


def say(text: str) -> None:
    print(text, flush=True)


def start_servers(servers: Sequence[LocalServer], signals: _Signals) -> None:
    for server in servers:
        say(f"starting {server.title} on {server.port} ...")
        with signals.deferred():
            server.spawn()
    waiting = list(servers)
    deadline = time.monotonic() + READY_TIMEOUT
    while waiting:  # round-robin probes, so the servers boot in parallel
        for server in [s for s in waiting if s.poll_ready()]:
            waiting.remove(server)
            say(f"  {server.title} ready ({time.monotonic() - server.spawned_at:.1f} s)")
        if waiting and time.monotonic() > deadline:
            late = waiting[0]
            raise ServerStartError(
                f"{late.title} did not answer on port {late.port} within {READY_TIMEOUT:.0f} s; "
                f"last lines of {late.log_path}:\n{late.log_tail()}"
            )
        time.sleep(0.05)


def start_services(services: Sequence[Service], env: dict[str, str], signals: _Signals) -> None:
    for svc in services:
        say(f"starting {svc.name} on {svc.port} ...")
        with signals.deferred():
            svc.started_at = time.monotonic()
            svc.log_start = svc.log_path.stat().st_size if svc.log_path.exists() else 0
            cmd = [sys.executable, "-m", svc.module]
            svc.proc = spawn(cmd, svc.log_path, env=env, cwd=ROOT)
    waiting = list(services)
    deadline = time.monotonic() + READY_TIMEOUT
    while waiting:
        for svc in list(waiting):
            if svc.proc is not None and svc.proc.poll() is not None:
                raise ServerStartError(_died(svc))
            if svc.healthy():
                waiting.remove(svc)
                say(f"  {svc.name} ready ({time.monotonic() - svc.started_at:.1f} s)")
        if waiting and time.monotonic() > deadline:
            svc = waiting[0]
            raise ServerStartError(
                f"{svc.name} did not answer GET /health/live within {READY_TIMEOUT} s; "
                f"last lines of {svc.log_path}:\n{log_tail(svc.log_path, since=svc.log_start)}"
            )
        time.sleep(0.1)


def _died(svc: Service) -> str:
    code = svc.proc.returncode if svc.proc else None
    tail = log_tail(svc.log_path, since=svc.log_start)
    return f"{svc.name} exited with code {code}; last lines of {svc.log_path}:\n{tail}"


def supervise(servers: Sequence[LocalServer], services: Sequence[Service]) -> str:
    """Block until a child dies; returns what happened (signals raise Shutdown instead)."""
    while True:
        for svc in services:
            if svc.proc is not None and svc.proc.poll() is not None:
                return _died(svc)
        for server in servers:
            if not server.running:
                return f"{server.title} exited; last lines of its log:\n{server.log_tail()}"
        time.sleep(0.5)


def stop_all(servers: Sequence[LocalServer], services: Sequence[Service]) -> None:
    for svc in reversed(services):
        if svc.proc is not None and svc.proc.poll() is None:
            say(f"stopping {svc.name} ...")
            stop_process(svc.proc, sig=signal.SIGTERM, timeout=10)
    for server in reversed(servers):
        if server.running:
            say(f"stopping {server.title} ...")
        server.stop()


def banner(servers: Sequence[LocalServer], services: Sequence[Service]) -> None:
    for svc in services:
        base = f"http://127.0.0.1:{svc.port}"
        say(f"{svc.name:22} {base}   docs {base}/docs   metrics {base}/metrics")
    for server in servers:
        say(f"{server.title:22} {server.url}")
    say(f"{'logs':22} {LOGS}\nCtrl-C stops everything.")


def plan(what: str, ports: dict[str, int]) -> tuple[list[LocalServer], list[Service]]:
    servers: list[LocalServer] = [
        LocalPostgres(
            STATE / "postgres", port=ports["POSTGRES_PORT"], log_path=LOGS / "postgres.log"
        ),
        LocalKafka(port=ports["KAFKA_PORT"], log_path=LOGS / "kafka.log"),
        LocalMongo(STATE / "mongo", port=ports["MONGODB_PORT"], log_path=LOGS / "mongo.log"),
        LocalIssuer(
            STATE / "issuer",
            port=ports["ISSUER_PORT"],
            log_path=LOGS / "issuer.log",
            audience=AUDIENCE,
        ),
    ]
    services: list[Service] = []
    if what == "all":
        services.append(
            Service("write-service", "services.write", ports["WRITE_PORT"], "WRITE_PORT")
        )
        # the read service is optional until its package has an entry point
        if (ROOT / "services" / "read" / "__main__.py").exists():
            services.append(
                Service("read-service", "services.read", ports["READ_PORT"], "READ_PORT")
            )
    return servers, services


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.local.run", description=__doc__)
    parser.add_argument("what", choices=["all", "infra"], help="with or without the services")
    ports = read_ports(dict(os.environ))
    servers, services = plan(parser.parse_args(argv).what, ports)
    signals, code, wrote_env = _Signals(), 1, False
    try:
        signals.install()
        wanted = [(s.port, s.port_env) for s in servers] + [(s.port, s.port_env) for s in services]
        for port, env_var in wanted:
            ensure_port_free(port, env_var=env_var)
        started = time.monotonic()
        start_servers(servers, signals)
        env = service_env(servers, ports)
        write_stack_env(env)
        wrote_env = True
        start_services(services, env, signals)
        say(f"ready in {time.monotonic() - started:.1f} s")
        banner(servers, services)
        say(f"error: {supervise(servers, services)}")
    except Shutdown:
        say("\nshutting down ...")
        code = 0
    except (PortInUseError, ServerStartError) as error:
        say(f"error: {error}")
    finally:
        signals.deferring += 1  # from here on a second Ctrl-C must not cut the cleanup short
        stop_all(servers, services)
        if wrote_env:  # not another run's, which a refused start must leave alone
            STACK_ENV.unlink(missing_ok=True)
    say("stopped")
    return code


def write_stack_env(env: dict[str, str]) -> None:
    """What a process needs to reach the running stack, as `KEY=value` lines."""
    lines = [f"{key}={env[key]}" for key in STACK_KEYS]
    STACK_ENV.parent.mkdir(parents=True, exist_ok=True)
    STACK_ENV.write_text(
        "# written by make run / make infra while the stack runs\n" + "\n".join(lines) + "\n"
    )


STACK_KEYS = (
    "DATABASE_URL",
    "KAFKA_BOOTSTRAP_SERVERS",
    "KAFKA_ENABLE_IDEMPOTENCE",
    "KAFKA_SESSION_TIMEOUT_MS",
    "MONGODB_URL",
    "WRITE_PORT",
    "READ_PORT",
    "WRITE_SERVICE_URL",
    "AUTH_ISSUER",
    "AUTH_AUDIENCE",
    "AUTH_CLIENT_ID",
    "AUTH_CLIENT_SECRET",
    "TOKEN_CLIENT_SECRET",
)


def service_env(servers: Sequence[LocalServer], ports: dict[str, int]) -> dict[str, str]:
    pg, kafka, mongo, issuer = servers
    assert isinstance(issuer, LocalIssuer)
    return {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "DATABASE_URL": pg.url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka.url,
        "KAFKA_ENABLE_IDEMPOTENCE": "false",  # the dev broker cannot produce idempotently
        "KAFKA_SESSION_TIMEOUT_MS": "6000",  # the dev broker holds group joins for half of it
        "MONGODB_URL": mongo.url,
        "WRITE_PORT": str(ports["WRITE_PORT"]),
        "READ_PORT": str(ports["READ_PORT"]),
        "WRITE_SERVICE_URL": f"http://127.0.0.1:{ports['WRITE_PORT']}",
        **issuer.service_settings(),
        "TOKEN_CLIENT_SECRET": issuer.client_secret("dev"),  # make token's client: `dev`
    }


if __name__ == "__main__":
    sys.exit(main())
