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
from collections.abc import Sequence

from deploy.local.console import Shutdown, Signals, say
from deploy.local.services import Service, died, start_services
from deploy.local.settings import (
    AUDIENCE,
    LOGS,
    READY_TIMEOUT,
    ROOT,
    STACK_ENV,
    STATE,
    console_redirects,
    read_ports,
    service_env,
    write_stack_env,
)
from deploy.local.stack import (
    LocalIssuer,
    LocalKafka,
    LocalMongo,
    LocalPostgres,
    LocalServer,
    PortInUseError,
    ServerStartError,
    ensure_port_free,
    stop_process,
)


def start_servers(servers: Sequence[LocalServer], signals: Signals) -> None:
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


def supervise(servers: Sequence[LocalServer], services: Sequence[Service]) -> str:
    """Block until a child dies; returns what happened (signals raise Shutdown instead)."""
    while True:
        for svc in services:
            if svc.proc is not None and svc.proc.poll() is not None:
                return died(svc)
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
        if isinstance(server, LocalIssuer) and any(s.module == "services.read" for s in services):
            console_banner(server, services)
    say(f"{'logs':22} {LOGS}\nCtrl-C stops everything.")


def console_banner(issuer: LocalIssuer, services: Sequence[Service]) -> None:
    """Where the operator console is, and who may sign in to it."""
    read = next(s for s in services if s.module == "services.read")
    say(f"{'operator console':22} http://127.0.0.1:{read.port}/console/")
    users = ", ".join(f"{u} / {issuer.user_password(u)}" for u in ("operator", "viewer", "nobody"))
    say(f"{'  sign in as':22} {users}   (kept in {issuer.state_dir / 'users.json'})")


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
            console_redirects=console_redirects(ports["READ_PORT"]),
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
    signals, code, wrote_env = Signals(), 1, False
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


if __name__ == "__main__":
    sys.exit(main())
