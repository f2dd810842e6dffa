"""Settings a service cannot start with end it with a message naming them, not a traceback."""

import base64
import os

import pytest

from services.write.settings import WriteSettings
from shared.plumbing.settings import InvalidSettings, load_settings
from tests.auth import pii_env


def test_a_setting_that_cannot_be_read_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_DISABLED", "true")
    monkeypatch.setenv("WRITE_PORT", "eighty")
    with pytest.raises(InvalidSettings) as refused:
        load_settings(WriteSettings)
    assert str(refused.value).startswith("invalid settings: WRITE_PORT: "), refused.value


def test_inconsistent_settings_are_named_without_pydantics_wording(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AUTH_DISABLED", "true")
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    for name, value in pii_env().items():  # checked after every field is read
        monkeypatch.setenv(name, value)
    with pytest.raises(InvalidSettings) as refused:
        load_settings(WriteSettings)
    message = str(refused.value)
    assert "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD" in message
    assert "Value error" not in message


def test_the_write_service_refuses_to_start_without_its_personal_data_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AUTH_DISABLED", "true")
    monkeypatch.delenv("PII_KEK", raising=False)
    monkeypatch.setenv("PII_INDEX_KEY", base64.b64encode(b"short").decode())
    with pytest.raises(InvalidSettings) as refused:
        load_settings(WriteSettings)
    message = str(refused.value)
    assert "PII_KEK: not set" in message, message
    assert "PII_INDEX_KEY: 5 bytes" in message, message


def test_the_personal_data_keys_are_read_as_base64_of_32_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kek, index = os.urandom(32), os.urandom(32)
    monkeypatch.setenv("AUTH_DISABLED", "true")
    monkeypatch.setenv("PII_KEK", base64.b64encode(kek).decode())
    monkeypatch.setenv("PII_INDEX_KEY", base64.b64encode(index).decode())
    settings = load_settings(WriteSettings)
    assert (settings.kek, settings.index_key) == (kek, index)
    assert settings.pii_kek_id == "local-1" and settings.pii_key_cache_seconds == 300
    assert base64.b64encode(kek).decode() not in repr(settings)  # secrets stay hidden
