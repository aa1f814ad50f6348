"""Settings come from the environment and refuse unsafe production configurations."""

import pytest

from cooperation.settings import Settings, SettingsError


def test_production_refuses_the_default_secret(monkeypatch):
    monkeypatch.setenv("COOP_ENV", "production")
    monkeypatch.setenv("COOP_BASE_URL", "https://libcoop.nlv.example")
    monkeypatch.delenv("COOP_SECRET_KEY", raising=False)
    with pytest.raises(SettingsError, match="COOP_SECRET_KEY"):
        Settings.from_env()
    monkeypatch.setenv("COOP_SECRET_KEY", "hX3vQ9s-Lr2mZ8kP_w4TbN7yJc5Ud1GfA6eRq0Vn")
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


async def test_demo_mode_without_mail_sends_nothing_and_warns_nobody(monkeypatch, tmp_path, caplog):
    """The demo server logged "reminder not sent" about port 25 at every start; now `coop serve --demo` says once how
    mail is configured, and the messages wait quietly."""
    from cooperation import mail

    monkeypatch.setenv("COOP_DEMO_SIGN_IN", "1")
    monkeypatch.delenv("COOP_SMTP_HOST", raising=False)
    assert Settings.from_env().mail_enabled is False
    monkeypatch.setenv("COOP_SMTP_HOST", "mail.library.example")
    assert Settings.from_env().mail_enabled is True
    monkeypatch.delenv("COOP_DEMO_SIGN_IN")
    monkeypatch.delenv("COOP_SMTP_HOST")
    assert Settings.from_env().mail_enabled is True  # outside demo mode a failing server is worth a warning
    quiet = Settings(mail_enabled=False, data_dir=tmp_path)
    with pytest.raises(mail.MailNotConfigured):
        await mail.send(quiet, mail.message(quiet, to="someone@example.org", subject="s", text="t"))
    assert "COOP_SMTP_HOST" in mail.NOT_CONFIGURED and "docs/configuration.md" in mail.NOT_CONFIGURED


def test_production_refuses_a_secret_without_entropy(monkeypatch):
    """A 40-character secret of one repeated letter was accepted in production."""
    import secrets

    monkeypatch.setenv("COOP_ENV", "production")
    monkeypatch.setenv("COOP_BASE_URL", "https://libcoop.nlv.example")
    for weak in ("a" * 40, "abcd" * 10, "0123456789" * 4):
        monkeypatch.setenv("COOP_SECRET_KEY", weak)
        with pytest.raises(SettingsError, match="token_urlsafe"):
            Settings.from_env()
    for strong in (secrets.token_urlsafe(48), secrets.token_hex(16)):
        monkeypatch.setenv("COOP_SECRET_KEY", strong)
        assert Settings.from_env().secret_key == strong


def test_production_refuses_to_start_without_its_address(monkeypatch):
    """Reset and invitation links, feeds and calendars were built from the request's Host header when it was unset."""
    import secrets

    monkeypatch.setenv("COOP_ENV", "production")
    monkeypatch.setenv("COOP_SECRET_KEY", secrets.token_urlsafe(48))
    monkeypatch.delenv("COOP_BASE_URL", raising=False)
    with pytest.raises(SettingsError, match="COOP_BASE_URL"):
        Settings.from_env()
    monkeypatch.setenv("COOP_BASE_URL", "libcoop.nlv.example")
    with pytest.raises(SettingsError, match="COOP_BASE_URL"):
        Settings.from_env()
    monkeypatch.setenv("COOP_BASE_URL", "https://libcoop.nlv.example/")
    monkeypatch.setenv("COOP_ALLOWED_HOSTS", "libcoop-internal.nlv.lan, 127.0.0.1")
    settings = Settings.from_env()
    assert settings.base_url == "https://libcoop.nlv.example"
    assert settings.hosts == {"libcoop.nlv.example", "libcoop-internal.nlv.lan", "127.0.0.1"}


def test_outbound_networks_are_none_by_default_and_named_exactly(monkeypatch):
    """Webhooks, harvests and paired instances reach no private network unless one is named; a bad name is refused."""
    for name in ("COOP_OUTBOUND_ALLOW", "COOP_HARVEST_PRIVATE"):
        monkeypatch.delenv(name, raising=False)
    assert Settings.from_env().outbound_allowed == ()
    monkeypatch.setenv("COOP_OUTBOUND_ALLOW", "10.20.0.0/16, 127.0.0.1")
    assert Settings.from_env().outbound_allowed == ("10.20.0.0/16", "127.0.0.1")
    monkeypatch.setenv("COOP_OUTBOUND_ALLOW", "intranet")
    with pytest.raises(SettingsError, match="COOP_OUTBOUND_ALLOW"):
        Settings.from_env()
