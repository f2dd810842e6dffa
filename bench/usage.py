"""What some work cost, read before and after it: the CPU time of given processes (with their
children), and MongoDB's own count of the operations on one database (its `top` command, per
namespace: the benchmark's own serverStatus and top name no collection, so they do not count)
and of all its operations (serverStatus opcounters)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pymongo.errors import PyMongoError

from .cpu import tree_cpu_seconds
from .servers import Stack

SECTIONS = ("total", "queries", "getmore", "insert", "update", "remove", "commands")
SERVERS = {"postgres": "postgresql", "kafka": "kafka broker", "mongo": "mongodb server"}


@dataclass(frozen=True)
class Usage:
    """CPU seconds by process, MongoDB operations on a database and on the whole server; at
    one moment, or (from `since`) over an interval."""

    at: float
    cpu: dict[str, float]
    database_ops: dict[str, int] = field(default_factory=dict)  # `top` section -> count
    server_ops: dict[str, int] = field(default_factory=dict)  # opcounters

    def since(self, before: Usage) -> Usage:
        return Usage(
            at=self.at - before.at,
            cpu={k: v - before.cpu.get(k, 0.0) for k, v in self.cpu.items()},
            database_ops={
                k: v - before.database_ops.get(k, 0) for k, v in self.database_ops.items()
            },
            server_ops={k: v - before.server_ops.get(k, 0) for k, v in self.server_ops.items()},
        )

    def share_of_a_core(self, name: str) -> float:
        """Over an interval: the process's CPU time as a percentage of the interval."""
        return 100.0 * self.cpu.get(name, 0.0) / self.at if self.at > 0 else float("nan")


def server_pids(stack: Stack) -> dict[str, int]:
    """The embedded servers' processes by role (servers from the environment have none here)."""
    pids = {
        SERVERS[name]: server.local.pid
        for name, server in stack.servers.items()
        if server.local is not None and server.local.pid is not None
    }
    if stack.issuer is not None and stack.issuer.pid is not None:
        pids["oidc issuer"] = stack.issuer.pid
    return pids


async def usage(pids: dict[str, int], mongo: Any = None, database: str = "") -> Usage:
    """Now: CPU seconds of each process tree; with a MongoDB client (opened beforehand, so that
    connecting is not counted), the server's operation counters."""
    cpu = await asyncio.to_thread(tree_cpu_seconds, pids)
    at = time.perf_counter()
    if mongo is None:
        return Usage(at, cpu)
    try:
        top = await mongo.admin.command("top")
        status = await mongo.admin.command("serverStatus")
    except PyMongoError:
        return Usage(at, cpu)
    return Usage(at, cpu, database_ops_of(top, database), dict(status.get("opcounters") or {}))


def database_ops_of(top: dict[str, Any], database: str) -> dict[str, int]:
    """Operations by `top` section over the namespaces of one database."""
    counted: Counter[str] = Counter()
    for namespace, sections in (top.get("totals") or {}).items():
        if namespace.startswith(f"{database}.") and isinstance(sections, dict):
            for section in SECTIONS:
                counted[section] += int(sections.get(section, {}).get("count", 0))
    return dict(counted)
