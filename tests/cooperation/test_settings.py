"""Settings come from the environment and refuse unsafe production configurations."""

import pytest

from cooperation.settings import Settings, SettingsError


def test_production_refuses_the_default_secret(monkeypatch):
    monkeypatch.setenv("COOP_ENV", "production")
    monkeypatch.delenv("COOP_SECRET_KEY", raising=False)
    with pytest.raises(SettingsError, match="COOP_SECRET_KEY"):
        Settings.from_env()
    monkeypatch.setenv("COOP_SECRET_KEY", "k" * 40)
    settings = Settings.from_env()
    assert settings.secure_cookies is True


def test_database_url_spellings(monkeypatch):
    monkeypatch.setenv("COOP_DATABASE_URL", "postgres://u@db/coop")
    assert Settings.from_env().database_url == "postgresql+asyncpg://u@db/coop"
    monkeypatch.setenv("COOP_DATABASE_URL", "mysql://x")
    with pytest.raises(SettingsError, match="COOP_DATABASE_URL"):
        Settings.from_env()


def test_bad_numbers_name_the_variable(monkeypatch):
    monkeypatch.setenv("COOP_UPLOAD_MAX_BYTES", "lots")
    with pytest.raises(SettingsError, match="COOP_UPLOAD_MAX_BYTES"):
        Settings.from_env()
