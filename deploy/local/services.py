"""Our HTTP services as children of `make run`: spawned with the stack's settings, ready once
GET /health/live answers."""

from __future__ import annotations

import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from deploy.local.console import Signals, say
from deploy.local.settings import LOGS, READY_TIMEOUT, ROOT
from deploy.local.stack import Process, ServerStartError, log_tail, spawn


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


def start_services(services: Sequence[Service], env: dict[str, str], signals: Signals) -> None:
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
                raise ServerStartError(died(svc))
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


def died(svc: Service) -> str:
    code = svc.proc.returncode if svc.proc else None
    tail = log_tail(svc.log_path, since=svc.log_start)
    return f"{svc.name} exited with code {code}; last lines of {svc.log_path}:\n{tail}"
