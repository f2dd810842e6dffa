"""Child processes of the dev stack: free ports, spawning tied to our lifetime, stopping, logs."""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

HOST = "127.0.0.1"
_T = TypeVar("_T")
Process = subprocess.Popen[bytes]


class PortInUseError(RuntimeError):
    """The port a server should listen on is taken by another process."""


class ServerStartError(RuntimeError):
    """A server exited, or did not answer its protocol in time."""


def free_port(host: str = HOST) -> int:
    """A port nothing listens on right now (the kernel picks it)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def ensure_port_free(port: int, *, env_var: str, host: str = HOST) -> None:
    with socket.socket() as sock:
        # SO_REUSEADDR: TIME_WAIT leftovers of a server we just stopped do not count as in use
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            raise PortInUseError(
                f"port {port} is already in use: stop whatever listens there or set {env_var}"
            ) from None


def log_tail(path: Path, *, since: int = 0, lines: int = 25) -> str:
    """The last lines written to a log after byte offset `since`."""
    try:
        with path.open("rb") as log:
            log.seek(since)
            text = log.read().decode("utf-8", "replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


def _die_with_parent(sig: int) -> Callable[[], None] | None:
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork, not after
    parent = os.getpid()

    def preexec() -> None:
        prctl(1, sig)  # PR_SET_PDEATHSIG; preexec runs after the uid switch, which would clear it
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


# PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, so every child is forked
# from this one long-lived thread, never from a short-lived thread that happened to ask.
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stack-spawner")


def spawn(
    cmd: Sequence[str], log_path: Path, *, death_signal: int = signal.SIGTERM, **popen: Any
) -> Process:
    """Start `cmd` with its output appended to `log_path`; it dies when this process dies.

    `popen` goes to subprocess.Popen as is (env, cwd, user, group...)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        log.write(f"\n--- {time.strftime('%F %T')} starting: {' '.join(cmd)}\n".encode())
        log.flush()
        # start_new_session=False keeps the terminal's session; process_group=0 means a Ctrl-C
        # reaches only the parent, which then stops the children in order, not all at once
        popen.update(stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        popen.update(start_new_session=False, process_group=0)
        popen_fn: Callable[..., Process] = subprocess.Popen
        future = _SPAWNER.submit(
            popen_fn, list(cmd), preexec_fn=_die_with_parent(death_signal), **popen
        )
        return future.result()


def stop_process(proc: Process, *, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
    """Signal, wait up to `timeout`, then kill; returns the exit code."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()


def run_async(factory: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    # a fresh loop in a worker thread, so probes also work when the caller runs a loop already
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()
