"""Settings a service cannot start with end it with a message naming them, not a traceback."""

import pytest

from services.write.settings import WriteSettings
from shared.plumbing.settings import InvalidSettings, load_settings


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
    with pytest.raises(InvalidSettings) as refused:
        load_settings(WriteSettings)
    message = str(refused.value)
    assert "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD" in message
    assert "Value error" not in message
