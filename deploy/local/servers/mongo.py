"""SecantusDB, the MongoDB-protocol server the dev stack runs."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from deploy.local.process import HOST
from deploy.local.servers.base import LocalServer


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
