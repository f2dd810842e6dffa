"""Kafka transport security: the settings checked at start, the options every client gets."""

import ssl
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from shared.plumbing.kafka import kafka_security_options
from shared.plumbing.settings import BaseServiceSettings
from tests.tls import make_certificates


def settings(**values: Any) -> BaseServiceSettings:
    return BaseServiceSettings(**values)


def test_plaintext_is_the_default_and_adds_nothing_but_the_protocol() -> None:
    assert kafka_security_options(settings()) == {"security_protocol": "PLAINTEXT"}


def test_ssl_verifies_the_brokers_against_the_ca_file(tmp_path: Path) -> None:
    ca = make_certificates(tmp_path).ca

    options = kafka_security_options(
        settings(kafka_security_protocol="SSL", kafka_ssl_cafile=str(ca))
    )

    context = options.pop("ssl_context")
    assert options == {"security_protocol": "SSL"}
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] == 1


def test_ssl_without_a_ca_file_trusts_the_systems_authorities() -> None:
    options = kafka_security_options(settings(kafka_security_protocol="SSL"))

    assert options["ssl_context"].verify_mode == ssl.CERT_REQUIRED


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"])
def test_sasl_ssl_carries_the_mechanism_the_credentials_and_tls(mechanism: str) -> None:
    options = kafka_security_options(
        settings(
            kafka_security_protocol="SASL_SSL",
            kafka_sasl_mechanism=mechanism,
            kafka_sasl_username="relay",
            kafka_sasl_password="s3cret",
        )
    )

    assert isinstance(options.pop("ssl_context"), ssl.SSLContext)
    assert options == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": mechanism,
        "sasl_plain_username": "relay",
        "sasl_plain_password": "s3cret",
    }


def test_sasl_plaintext_defaults_to_plain_and_has_no_tls() -> None:
    options = kafka_security_options(
        settings(
            kafka_security_protocol="SASL_PLAINTEXT",
            kafka_sasl_username="relay",
            kafka_sasl_password="s3cret",
        )
    )

    assert options["sasl_mechanism"] == "PLAIN"
    assert "ssl_context" not in options


def test_the_password_is_not_shown_with_the_settings() -> None:
    configured = settings(
        kafka_security_protocol="SASL_SSL", kafka_sasl_username="u", kafka_sasl_password="s3cret"
    )

    assert "s3cret" not in repr(configured)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"kafka_security_protocol": "SASL_SSL"}, "needs KAFKA_SASL_USERNAME"),
        (
            {"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_sasl_username": "u"},
            "SASL_PLAINTEXT needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD",
        ),
        (
            {"kafka_sasl_mechanism": "SCRAM-SHA-512"},
            "KAFKA_SASL_.* settings need SASL_PLAINTEXT or SASL_SSL, not PLAINTEXT",
        ),
        (
            {"kafka_security_protocol": "SSL", "kafka_sasl_username": "u"},
            "settings need SASL_PLAINTEXT or SASL_SSL, not SSL",
        ),
        (
            {"kafka_ssl_cafile": "/etc/ssl/ca.pem"},
            "KAFKA_SSL_CAFILE needs SSL or SASL_SSL, not PLAINTEXT",
        ),
        (
            {"kafka_security_protocol": "SSL", "kafka_ssl_cafile": "/nowhere/ca.pem"},
            "is not a file",
        ),
        ({"kafka_security_protocol": "TLS"}, "kafka_security_protocol"),
        (
            {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "GSSAPI"},
            "kafka_sasl_mechanism",
        ),
    ],
)
def test_inconsistent_settings_fail_at_start(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        settings(**values)


def test_the_settings_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ca = make_certificates(tmp_path).ca
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "read-service")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "from-a-secret")
    monkeypatch.setenv("KAFKA_SSL_CAFILE", str(ca))

    configured = BaseServiceSettings()

    assert configured.kafka_sasl_password.get_secret_value() == "from-a-secret"
    assert kafka_security_options(configured)["sasl_mechanism"] == "SCRAM-SHA-512"
