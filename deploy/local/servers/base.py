"""What every embedded server shares: spawn, probe over its own protocol until it answers, stop."""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path
from typing import Any, ClassVar

from deploy.local.process import (
    HOST,
    Process,
    ServerStartError,
    ensure_port_free,
    log_tail,
    spawn,
    stop_process,
)


class LocalServer:
    """One server as a child process: spawn, probe until it answers, stop, start again."""

    title: ClassVar[str]
    port_env: ClassVar[str]
    stop_signal: ClassVar[int] = signal.SIGTERM
    death_signal: ClassVar[int] = signal.SIGTERM

    def __init__(self, *, port: int, log_path: Path, host: str = HOST) -> None:
        self.port, self.host, self.log_path = port, host, log_path
        self._proc: Process | None = None
        self._log_start, self.spawned_at = 0, 0.0  # spawned_at: time.monotonic()
        self._popen: dict[str, Any] = {}  # extra Popen arguments: env, cwd, user...

    @property
    def url(self) -> str:
        raise NotImplementedError

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def start(self, timeout: float = 60.0) -> float:
        """Spawn, then wait until the server answers; returns the seconds it took."""
        self.spawn()
        return self.wait_ready(timeout)

    def spawn(self) -> None:
        """Start the child without waiting for it, so that several can boot in parallel."""
        if self.running:
            return
        ensure_port_free(self.port, env_var=self.port_env, host=self.host)
        self.spawned_at = time.monotonic()
        self._prepare()
        self._log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        self._proc = spawn(
            self._command(), self.log_path, death_signal=self.death_signal, **self._popen
        )

    def poll_ready(self) -> bool:
        """One probe: True once the server answers; raises if the child has exited."""
        if self._proc is None:
            raise ServerStartError(f"{self.title} was not started")
        if (code := self._proc.poll()) is not None:
            self._proc = None
            raise ServerStartError(
                f"{self.title} exited with code {code} before answering on port {self.port}; "
                f"last lines of {self.log_path}:\n{self.log_tail()}"
            )
        try:
            # a plain connect first: it fails fast, where protocol clients wait out timeouts
            # (and aiokafka logs an error for every refused attempt)
            socket.create_connection((self.host, self.port), timeout=1).close()
            return self._probe()
        except Exception:  # refused, reset, still booting: all mean "not yet"
            return False

    def wait_ready(self, timeout: float = 60.0) -> float:
        deadline, delay = time.monotonic() + timeout, 0.02
        while not self.poll_ready():
            if time.monotonic() > deadline:
                raise ServerStartError(
                    f"{self.title} did not answer on port {self.port} within {timeout:.0f} s; "
                    f"last lines of {self.log_path}:\n{self.log_tail()}"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
        return time.monotonic() - self.spawned_at

    def stop(self, timeout: float = 10.0) -> None:
        if self._proc is not None:
            stop_process(self._proc, sig=self.stop_signal, timeout=timeout)
            self._proc = None

    def log_tail(self, lines: int = 25) -> str:
        return log_tail(self.log_path, since=self._log_start, lines=lines)

    def _prepare(self) -> None:
        """Work before the spawn (PostgreSQL's initdb)."""

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _probe(self) -> bool:
        raise NotImplementedError
