"""Settings of the write service (and its relay), from the environment."""

import base64
import binascii

from pydantic import Field, PostgresDsn, SecretStr, field_validator

from shared.plumbing.settings import BaseServiceSettings

KEY_BYTES = 32
# How to make a key, as the refusal to start without one says.
MAKE_KEY = "python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())'"


def decode_key(value: str) -> bytes:
    """A 256-bit key from its base64 text; ValueError naming what is wrong, never the value."""
    if not value:
        raise ValueError(f"not set: give base64 of {KEY_BYTES} random bytes, e.g. from {MAKE_KEY}")
    try:
        key = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"not base64: give base64 of {KEY_BYTES} random bytes") from None
    if len(key) != KEY_BYTES:
        raise ValueError(f"{len(key)} bytes: give base64 of exactly {KEY_BYTES} random bytes")
    return key


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
    # While orders keep coming, wait this long between batches so that each takes more.
    fulfilment_linger_seconds: float = Field(default=0.01, ge=0, le=1.0)
    kafka_partitions: int = Field(default=6, ge=1)
    kafka_replication_factor: int = Field(default=1, ge=1)
    kafka_request_timeout_ms: int = Field(default=10_000, ge=1000)
    event_source: str = "/ordering/write-service"
    # An active instance of the fulfilment process that has not progressed for this long while
    # its order has newer events is listed (and counted) as stuck.
    fulfilment_stuck_seconds: float = Field(default=60.0, gt=0, le=86_400)
    # Personal data (see shared/contracts/personal.py). The key-encryption key wraps every
    # customer's data key (PII_KEK_ID names it in each wrapped row); the index key makes the
    # blind index of emails and keys the idempotency fingerprints. Both are required.
    pii_kek: SecretStr = Field(default=SecretStr(""), validate_default=True)
    pii_kek_id: str = Field(default="local-1", min_length=1, max_length=100)
    pii_index_key: SecretStr = Field(default=SecretStr(""), validate_default=True)
    # Unwrapped data keys are kept in memory this long at most (and this many at most).
    pii_key_cache_seconds: float = Field(default=300.0, ge=0, le=86_400)
    pii_key_cache_size: int = Field(default=100_000, ge=1)
    # The read service, asked by GET /erasures whether its projections applied an erasure.
    read_service_url: str = Field(default="", pattern=r"^(https?://\S+)?$")

    @field_validator("pii_kek", "pii_index_key")
    @classmethod
    def _key(cls, value: SecretStr) -> SecretStr:
        decode_key(value.get_secret_value())
        return value

    @property
    def kek(self) -> bytes:
        return decode_key(self.pii_kek.get_secret_value())

    @property
    def index_key(self) -> bytes:
        return decode_key(self.pii_index_key.get_secret_value())

    @property
    def dsn(self) -> str:
        return str(self.database_url)
