"""Settings of the write service (and its relay), from the environment."""

from pydantic import Field, PostgresDsn

from shared.plumbing.settings import BaseServiceSettings


class WriteSettings(BaseServiceSettings):
    """Every field can be set by the upper-case environment variable of its name."""

    database_url: PostgresDsn = PostgresDsn("postgresql://postgres@127.0.0.1:5432/postgres")
    db_pool_min: int = Field(default=2, ge=1)
    db_pool_max: int = Field(default=20, ge=1)
    write_host: str = "127.0.0.1"
    write_port: int = Field(default=8001, ge=1, le=65535)
    command_attempts: int = Field(default=10, ge=1, le=100)
    relay_enabled: bool = True
    relay_batch_size: int = Field(default=1000, ge=1, le=10_000)
    relay_poll_seconds: float = Field(default=1.0, gt=0)
    # While events keep coming, wait this long between batches so that each carries more.
    relay_linger_seconds: float = Field(default=0.01, ge=0, le=1.0)
    relay_marker_topic: str = "events.relay-marker"
    # The fulfilment process (one replica at a time, beside the relay): how long an
    # unconfirmed order holds its stock, how many log events a batch takes, how often it looks
    # for due deadlines when no append wakes it.
    fulfilment_enabled: bool = True
    reservation_ttl_seconds: float = Field(default=1800.0, gt=0, le=30 * 86_400)
    fulfilment_batch_size: int = Field(default=500, ge=1, le=10_000)
    fulfilment_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    kafka_partitions: int = Field(default=6, ge=1)
    kafka_replication_factor: int = Field(default=1, ge=1)
    kafka_request_timeout_ms: int = Field(default=10_000, ge=1000)
    event_source: str = "/ordering/write-service"
    # An active instance of the fulfilment process that has not progressed for this long while
    # its order has newer events is listed (and counted) as stuck.
    fulfilment_stuck_seconds: float = Field(default=60.0, gt=0, le=86_400)

    @property
    def dsn(self) -> str:
        return str(self.database_url)
