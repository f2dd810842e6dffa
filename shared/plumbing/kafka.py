"""How every Kafka client of the services connects: the transport security of the settings."""

from typing import Any

from aiokafka.helpers import create_ssl_context

from .settings import BaseServiceSettings


def kafka_security_options(settings: BaseServiceSettings) -> dict[str, Any]:
    """The keyword arguments that give an aiokafka producer, consumer or admin client the
    settings' security protocol, SASL credentials and TLS context (the settings checked them)."""
    protocol = settings.kafka_security_protocol
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol in ("SSL", "SASL_SSL"):
        # Verifies the brokers' certificates and host names, against the CA file or the system's.
        options["ssl_context"] = create_ssl_context(cafile=settings.kafka_ssl_cafile or None)
    if protocol in ("SASL_PLAINTEXT", "SASL_SSL"):
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism or "PLAIN"
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    return options
