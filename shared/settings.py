"""The settings base every service extends: typed, from the environment, checked at start."""

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class BaseServiceSettings(BaseSettings):
    """Settings common to both services. Every field can be set by its upper-case env var."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"
    kafka_bootstrap_servers: str = Field(default="127.0.0.1:9092", min_length=3)
    kafka_enable_idempotence: bool = True
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    customers_topic: str = "customers.events"
    orders_topic: str = "orders.events"

    def topic_for(self, stream_type: str) -> str:
        """The Kafka topic that carries the events of one stream type."""
        topics = {"customer": self.customers_topic, "order": self.orders_topic}
        return topics[stream_type]
