import pytest
from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict

from guichet_kit.settings import DEVELOPMENT_SECRET_PREFIX, KitSettings


class SampleSettings(KitSettings):
    model_config = SettingsConfigDict(env_prefix="SAMPLE_", frozen=True)

    signing_key: SecretStr = SecretStr(DEVELOPMENT_SECRET_PREFIX + "signing-key")


def test_default_secret_is_accepted_in_development(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMPLE_ENVIRONMENT", "development")
    assert SampleSettings().signing_key.get_secret_value().startswith(DEVELOPMENT_SECRET_PREFIX)


@pytest.mark.parametrize("environment", ["test", "production"])
def test_default_secret_is_refused_outside_development(
    monkeypatch: pytest.MonkeyPatch, environment: str
) -> None:
    monkeypatch.setenv("SAMPLE_ENVIRONMENT", environment)
    with pytest.raises(ValidationError, match="signing_key still has its development default"):
        SampleSettings()


def test_a_real_secret_is_accepted_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMPLE_ENVIRONMENT", "production")
    monkeypatch.setenv("SAMPLE_SIGNING_KEY", "f3a9c1e2d4b5a6978877665544332211")
    assert SampleSettings().signing_key.get_secret_value() == "f3a9c1e2d4b5a6978877665544332211"


def test_settings_read_only_their_own_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTHER_ENVIRONMENT", "production")
    monkeypatch.delenv("SAMPLE_ENVIRONMENT", raising=False)
    assert SampleSettings().environment == "development"
