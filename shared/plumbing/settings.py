"""The settings base every service extends: typed, from the environment, checked at start."""

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Self, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

KafkaSecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
KafkaSaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
# An origin as browsers send it: scheme, host and optional port; no path, not even "/".
ORIGIN = re.compile(r"^https?://[^/\s?#]+$")


AUTH_SETTINGS_MISSING = (
    "AUTH_ISSUER and AUTH_AUDIENCE are not set: the service needs the OpenID Connect issuer whose "
    "access tokens it accepts (AUTH_ISSUER, found by discovery) and the audience they must name "
    "(AUTH_AUDIENCE); to serve without any access control, set AUTH_DISABLED=true"
)


class BaseServiceSettings(BaseSettings):
    """Settings common to both services. Every field can be set by its upper-case env var."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"
    kafka_bootstrap_servers: str = Field(default="127.0.0.1:9092", min_length=3)
    kafka_enable_idempotence: bool = True
    # Transport security towards the brokers (see shared/plumbing/kafka.py): TLS, SASL, or both.
    kafka_security_protocol: KafkaSecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: KafkaSaslMechanism | None = None  # PLAIN when SASL_* leaves it unset
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr = SecretStr("")
    kafka_ssl_cafile: str = ""  # the brokers' CA (PEM); the system's CAs when empty
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    # Take the client's address and scheme from X-Forwarded-For and X-Forwarded-Proto when the
    # proxies FORWARDED_ALLOW_IPS names (uvicorn's setting: 127.0.0.1 when unset) send them.
    # Off by default: no deployment here puts a proxy beside the services, and only the traces'
    # client attributes and the redirect of a path with a stray slash read them.
    proxy_headers: bool = False
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
    # Browser origins allowed to call the API (CORS); none by default, so no CORS headers at all.
    cors_allow_origins: Annotated[list[str], NoDecode] = []
    customers_topic: str = "customers.events"
    orders_topic: str = "orders.events"
    stock_topic: str = "stock.events"

    @field_validator("cors_allow_origins", mode="before")
    @classmethod
    def _origins(cls, value: Any) -> Any:
        """A JSON list or comma-separated origins; each as a browser sends it, or "*"."""
        if isinstance(value, str):
            text = value.strip()
            value = json.loads(text) if text.startswith("[") else text.split(",")
        if not isinstance(value, list):
            return value
        origins = [str(origin).strip() for origin in value if str(origin).strip()]
        wrong = [o for o in origins if o != "*" and not ORIGIN.match(o)]
        if wrong:
            raise ValueError(f"not an origin (scheme://host[:port], no path): {wrong}")
        if "*" in origins and len(origins) > 1:
            raise ValueError('"*" allows every origin: give it alone')
        return origins

    @model_validator(mode="after")
    def _kafka_security(self) -> Self:
        """SASL needs credentials, SASL settings need SASL, a CA file needs TLS and must exist."""
        protocol, cafile = self.kafka_security_protocol, self.kafka_ssl_cafile
        sasl = protocol.startswith("SASL_")
        user, password = self.kafka_sasl_username, self.kafka_sasl_password.get_secret_value()
        problems = []
        if sasl and not (user and password):
            problems.append(f"{protocol} needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD")
        if not sasl and (self.kafka_sasl_mechanism or user or password):
            problems.append(
                f"KAFKA_SASL_* settings need SASL_PLAINTEXT or SASL_SSL, not {protocol}"
            )
        if cafile and not protocol.endswith("SSL"):
            problems.append(f"KAFKA_SSL_CAFILE needs SSL or SASL_SSL, not {protocol}")
        if cafile and not Path(cafile).is_file():
            problems.append(f"KAFKA_SSL_CAFILE {cafile!r} is not a file")
        if problems:
            raise ValueError(f"KAFKA_SECURITY_PROTOCOL: {'; '.join(problems)}")
        return self

    def auth_problem(self) -> str | None:
        """Why a service with these settings must not serve, or None: secure by default, a
        service checks tokens unless told in so many words not to."""
        if self.auth_disabled or (self.auth_issuer and self.auth_audience):
            return None
        return AUTH_SETTINGS_MISSING

    def topic_for(self, stream_type: str) -> str:
        """The Kafka topic that carries the events of one stream type."""
        topics = {
            "customer": self.customers_topic,
            "order": self.orders_topic,
            "stock": self.stock_topic,
        }
        return topics[stream_type]


S = TypeVar("S", bound=BaseServiceSettings)


class InvalidSettings(SystemExit):
    """Settings a service cannot start with: the message names them, without a traceback."""


def load_settings(kind: type[S]) -> S:
    """`kind()` from the environment; otherwise an exit (status 1) whose message names what is
    wrong, without a traceback."""
    try:
        settings = kind()
    except ValidationError as exc:
        wrong = "; ".join(
            ": ".join(filter(None, ("_".join(map(str, e["loc"])).upper(), e["msg"]))).replace(
                "Value error, ", ""
            )
            for e in exc.errors()
        )
        raise InvalidSettings(f"invalid settings: {wrong}") from None
    return settings  # missing auth settings are refused where the app is built (install_auth)
