"""Where `make run` keeps its state, which ports it takes, and the .local/stack.env it writes for
the Makefile's other targets."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from deploy.local.keys import PII_KEY_NAMES, stack_pii_keys
from deploy.local.stack import LocalIssuer, LocalServer

ROOT = Path(__file__).resolve().parents[2]
STATE = ROOT / os.environ.get("LOCAL_STATE_DIR", ".local")
LOGS = STATE / "logs"
STACK_ENV = STATE / "stack.env"
# The write service's key-encryption and index keys: made at the first `make run`, then kept.
PII_KEYS = STATE / "pii-keys.json"
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


def console_origins(read_port: int) -> tuple[str, ...]:
    """Where a browser opens the read service's console: both names of this machine."""
    return (f"http://127.0.0.1:{read_port}", f"http://localhost:{read_port}")


def console_redirects(read_port: int) -> tuple[str, ...]:
    """The console's sign-in redirect URIs, registered with the development issuer."""
    return tuple(f"{origin}/console/" for origin in console_origins(read_port))


def read_ports(env: dict[str, str]) -> dict[str, int]:
    ports = {}
    for name, default in DEFAULT_PORTS.items():
        raw = env.get(name, str(default))
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            raise SystemExit(f"{name}={raw!r} is not a port number")
        ports[name] = int(raw)
    return ports


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
    *PII_KEY_NAMES,
)


def write_stack_env(env: dict[str, str]) -> None:
    """What a process needs to reach the running stack, as `KEY=value` lines."""
    lines = [f"{key}={env[key]}" for key in STACK_KEYS]
    STACK_ENV.parent.mkdir(parents=True, exist_ok=True)
    STACK_ENV.touch(mode=0o600)  # it holds secrets: the owner's only
    STACK_ENV.chmod(0o600)
    STACK_ENV.write_text(
        "# written by make run / make infra while the stack runs\n" + "\n".join(lines) + "\n"
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
        # the console's pages, served by the read service, call the write service from there
        "CORS_ALLOW_ORIGINS": ",".join(console_origins(ports["READ_PORT"])),
        **issuer.service_settings(),
        "TOKEN_CLIENT_SECRET": issuer.client_secret("dev"),  # make token's client: `dev`
        **stack_pii_keys(PII_KEYS),
    }
