"""The embedded dev stack: PostgreSQL, a Kafka-protocol broker and a MongoDB-protocol server run
as child processes, each probed over its own wire protocol until it really answers.

The servers live in deploy/local/servers/ (one module per kind), the process handling they share
in deploy/local/process.py; this module gathers what `make run`, the tests and the benchmarks use.
"""

from __future__ import annotations

from deploy.local.process import (
    HOST,
    PortInUseError,
    Process,
    ServerStartError,
    ensure_port_free,
    free_port,
    log_tail,
    run_async,
    spawn,
    stop_process,
)
from deploy.local.servers.base import LocalServer
from deploy.local.servers.issuer import LocalIssuer
from deploy.local.servers.kafka import LocalKafka
from deploy.local.servers.mongo import LocalMongo
from deploy.local.servers.postgres import PG_TEST_SETTINGS, LocalPostgres

__all__ = [
    "HOST",
    "PG_TEST_SETTINGS",
    "LocalIssuer",
    "LocalKafka",
    "LocalMongo",
    "LocalPostgres",
    "LocalServer",
    "PortInUseError",
    "Process",
    "ServerStartError",
    "ensure_port_free",
    "free_port",
    "log_tail",
    "run_async",
    "spawn",
    "stop_process",
]
