"""Settings of the read service, from the environment."""

from pydantic import Field

from shared.plumbing.settings import BaseServiceSettings


class ReadSettings(BaseServiceSettings):
    """Every field can be set by the upper-case environment variable of its name."""

    mongodb_url: str = Field(default="mongodb://127.0.0.1:27017", pattern=r"^mongodb(\+srv)?://")
    mongodb_database: str = "ordering_read"
    read_host: str = "127.0.0.1"
    read_port: int = Field(default=8002, ge=1, le=65535)
    write_service_url: str = Field(default="http://127.0.0.1:8001", pattern=r"^https?://")
    consumer_group_prefix: str = "read"
    # A batch holds what has arrived, up to this many records: small when keeping up, large
    # (fewer writes per event) while catching up.
    batch_max_records: int = Field(default=20_000, ge=1, le=100_000)
    # Documents each projection's consumer keeps in memory between batches (its own streams').
    live_cache_documents: int = Field(default=20_000, ge=0, le=1_000_000)
    handler_attempts: int = Field(default=3, ge=1)
    stall_seconds: float = Field(default=30.0, gt=0)
    lag_poll_seconds: float = Field(default=1.0, gt=0)
    max_wait_ms: int = Field(default=5000, ge=0, le=60_000)
    # How long a list or statistics answer may be reused without asking again (Cache-Control).
    cache_max_age_seconds: int = Field(default=2, ge=0, le=86_400)
    # A rebuild keeps up to this much of the new version's documents in memory (as JSON).
    rebuild_buffer_mb: float = Field(default=8.0, gt=0, le=1024)
    kafka_session_timeout_ms: int = Field(default=10_000, ge=1000)
    # How long the broker may hold a consumer's fetch that finds nothing (Kafka's default): a
    # fetch returns as soon as records arrive, so a long wait costs no latency and keeps an idle
    # consumer cheap for the broker. A consumer behind on a backlog fetches with a short wait
    # instead (adapters/consumer.py, CATCHING_UP_WAIT_MS).
    kafka_fetch_max_wait_ms: int = Field(default=500, ge=0, le=30_000)
    # The same once a consumer has received nothing for a while (REST_AFTER_SECONDS): fewer
    # fetches at rest. Kafka answers a held fetch when a record arrives, whatever the wait.
    kafka_fetch_max_wait_at_rest_ms: int = Field(default=2000, ge=0, le=30_000)
    # The scope the service's own token asks for (AUTH_CLIENT_ID's grant); empty: what the
    # issuer gives the client by default. Entra ID, for one, wants `api://<app>/.default`.
    auth_client_scope: str = ""
    # The scope of the token that asks the write service for the customers' data keys (a token
    # of its own, sent there only); issuers such as Entra ID want theirs here too.
    auth_keys_scope: str = "ordering:keys"
    # The customers' data keys are kept in memory (never written anywhere) this long, and at
    # most this many of them; an erasure forgets its customer's at once.
    pii_key_cache_seconds: float = Field(default=300.0, ge=0, le=86_400)
    pii_key_cache_size: int = Field(default=10_000, ge=0, le=1_000_000)
    # The operator console (/console): the issuer and write service as a browser reaches them
    # (AUTH_ISSUER and WRITE_SERVICE_URL when empty), its public client, the scopes it asks for,
    # and where a trace id is shown (a URL with `{trace_id}` in it, e.g. Jaeger's
    # http://localhost:16686/trace/{trace_id}; no link when empty).
    console_issuer: str = Field(default="", pattern=r"^(https?://\S+)?$")
    console_write_service_url: str = Field(default="", pattern=r"^(https?://\S+)?$")
    console_client_id: str = "console"
    console_scope: str = "openid ordering:query ordering:events ordering:operate"
    trace_viewer_url: str = Field(default="", pattern=r"^(https?://\S*\{trace_id\}\S*)?$")

    @property
    def event_topics(self) -> list[str]:
        """The topics every projection consumes: each sees every published event, so that its
        position and lag are the log's (a projection skips the stream types it does not fold)."""
        return [self.customers_topic, self.orders_topic, self.stock_topic]

    def group_for(self, projection: str) -> str:
        """Each projection consumes with its own group, so each has its own checkpoint."""
        return f"{self.consumer_group_prefix}.{projection}"
