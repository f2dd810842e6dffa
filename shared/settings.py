"""The settings base every service extends: typed, from the environment, checked at start."""

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class BaseServiceSettings(BaseSettings):
    """Settings common to both services. Every field can be set by its upper-case env var."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"
    kafka_bootstrap_servers: str = Field(default="127.0.0.1:9092", min_length=3)
    kafka_enable_idempotence: bool = True
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    # Access control: tokens of this issuer, for this audience; or nothing checked at all.
    auth_issuer: str = Field(default="", pattern=r"^(https?://\S+)?$")
    auth_audience: str = ""
    auth_disabled: bool = False
    auth_leeway_seconds: float = Field(default=30.0, ge=0, le=300)
    # This service's own client of the issuer (client-credentials grant), where it calls another.
    auth_client_id: str = ""
    auth_client_secret: SecretStr = SecretStr("")
    # /metrics holds no personal data: open unless this asks for a token with ordering:operate.
    auth_metrics_required: bool = False
    customers_topic: str = "customers.events"
    orders_topic: str = "orders.events"

    def topic_for(self, stream_type: str) -> str:
        """The Kafka topic that carries the events of one stream type."""
        topics = {"customer": self.customers_topic, "order": self.orders_topic}
        return topics[stream_type]
