"""Settings read from COOP_* environment variables (documented in docs/configuration.md)."""

import ipaddress
import math
import os
import re
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SECRET = "insecure-development-secret-change-me"


# What COOP_HARVEST_PRIVATE=on allows: loopback, the private ranges, link-local, and their IPv6 counterparts.
NON_PUBLIC = ("127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "::1/128", "fc00::/7", "fe80::/10")


class SettingsError(RuntimeError):
    """The configuration cannot be used; the message says which variable is wrong."""


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be true or false, not {raw!r}")


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    environment: str = "development"
    secret_key: str = DEFAULT_SECRET
    # COOP_OLD_SECRET_KEYS: keys used before COOP_SECRET_KEY, still read during a rotation (comma-separated; auth/crypto.py)
    old_secret_keys: tuple[str, ...] = ()
    database_url: str = ""
    data_dir: Path = PROJECT_ROOT / "var"
    upload_max_bytes: int = 20 * 1024 * 1024
    session_hours: int = 12
    db_pool_size: int = 10
    secure_cookies: bool = False
    demo_sign_in: bool = False
    log_level: str = "INFO"
    log_json: bool = False
    default_time_zone: str = "Asia/Ho_Chi_Minh"
    base_url: str | None = None
    allowed_hosts: tuple[str, ...] = ()  # hosts answered besides COOP_BASE_URL's (COOP_ALLOWED_HOSTS, comma-separated)
    report_workers: int = 1  # WeasyPrint processes; each takes one report at a time
    report_timeout_seconds: int = 120
    scheduler_enabled: bool = False  # `coop serve` turns it on (COOP_SCHEDULER=0 turns it off); tests start it themselves
    scheduler_poll_seconds: float = 15.0  # how often the elected scheduler looks for changed subscriptions and due retries
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    mail_from: str = "LibCoop <libcoop@localhost>"
    mail_retry_seconds: int = 60  # first retry of a failed send; doubles each time, at most a day
    # False only in demo mode with no COOP_SMTP_HOST: nothing is sent, quietly, and `coop serve` says so once.
    mail_enabled: bool = True
    default_language: str = "en"  # COOP_DEFAULT_LANGUAGE: en, fr, vi or zh_Hans, when nothing else says
    require_2fa_admin: bool = False  # COOP_REQUIRE_2FA_ADMIN: administrators sign in with a second factor or set one up
    dormant_months: int = 12  # COOP_DORMANT_MONTHS: a partner bound by an agreement and silent this long is dormant
    portal: bool = False  # COOP_PORTAL=on: the public cooperation portal under /portal (cooperation/portal.py)
    # COOP_OUTBOUND_ALLOW: the networks (comma-separated CIDRs, such as 127.0.0.0/8,10.20.0.0/16) that webhooks, harvests
    # and paired instances may reach although they are not public (cooperation/outbound.py); none by default.
    # COOP_HARVEST_PRIVATE=on, its older spelling, allows every private, loopback and link-local network.
    outbound_allowed: tuple[str, ...] = ()
    # COOP_STORAGE_URL: where stored files go — file:///path (default: COOP_DATA_DIR/files) or s3://bucket/prefix, with
    # COOP_S3_ENDPOINT (MinIO, Garage, Ceph: its address; empty for AWS), COOP_S3_REGION, COOP_S3_ACCESS_KEY_ID and
    # COOP_S3_SECRET_ACCESS_KEY (cooperation/files.py).
    storage_url: str = ""
    s3_endpoint: str | None = None
    s3_region: str | None = None
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def hosts(self) -> frozenset[str]:
        """The hosts this server answers for: COOP_BASE_URL's and COOP_ALLOWED_HOSTS; empty means any (development)."""
        if not self.base_url:
            return frozenset()
        return frozenset({(urlsplit(self.base_url).hostname or "").lower(), *self.allowed_hosts})

    @property
    def secret_keys(self) -> tuple[str, ...]:
        """The key that seals stored secrets, then the older ones that still read them (auth/crypto.py)."""
        return (self.secret_key, *self.old_secret_keys)

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    @classmethod
    def from_env(cls) -> "Settings":
        environment = os.environ.get("COOP_ENV", "development")
        if environment not in {"development", "production", "test"}:
            raise SettingsError(f"COOP_ENV must be development, test or production, not {environment!r}")
        data_dir = Path(os.environ.get("COOP_DATA_DIR") or PROJECT_ROOT / "var")
        database_url = os.environ.get("COOP_DATABASE_URL") or f"sqlite+aiosqlite:///{data_dir / 'libcoop.db'}"
        settings = cls(
            environment=environment,
            secret_key=os.environ.get("COOP_SECRET_KEY") or DEFAULT_SECRET,
            old_secret_keys=tuple(k.strip() for k in (os.environ.get("COOP_OLD_SECRET_KEYS") or "").split(",") if k.strip()),
            database_url=normalise_database_url(database_url),
            data_dir=data_dir,
            upload_max_bytes=_int("COOP_UPLOAD_MAX_BYTES", 20 * 1024 * 1024),
            session_hours=_int("COOP_SESSION_HOURS", 12),
            db_pool_size=_int("COOP_DB_POOL_SIZE", 10),
            secure_cookies=_bool("COOP_SECURE_COOKIES", environment == "production"),
            demo_sign_in=_bool("COOP_DEMO_SIGN_IN", False),
            log_level=os.environ.get("COOP_LOG_LEVEL", "INFO").upper(),
            log_json=_bool("COOP_LOG_JSON", environment == "production"),
            default_time_zone=os.environ.get("COOP_TIME_ZONE", "Asia/Ho_Chi_Minh"),
            base_url=(os.environ.get("COOP_BASE_URL") or "").rstrip("/") or None,
            allowed_hosts=tuple(h.strip().lower() for h in (os.environ.get("COOP_ALLOWED_HOSTS") or "").split(",") if h.strip()),
            require_2fa_admin=_bool("COOP_REQUIRE_2FA_ADMIN", False),
            default_language=os.environ.get("COOP_DEFAULT_LANGUAGE", "en"),
            report_workers=_int("COOP_REPORT_WORKERS", 1),
            report_timeout_seconds=_int("COOP_REPORT_TIMEOUT", 120),
            scheduler_enabled=_bool("COOP_SCHEDULER", True),
            scheduler_poll_seconds=float(_int("COOP_SCHEDULER_POLL_SECONDS", 15)),
            smtp_host=os.environ.get("COOP_SMTP_HOST", "127.0.0.1"),
            smtp_port=_int("COOP_SMTP_PORT", 25),
            smtp_user=os.environ.get("COOP_SMTP_USER") or None,
            smtp_password=os.environ.get("COOP_SMTP_PASSWORD") or None,
            smtp_starttls=_bool("COOP_SMTP_STARTTLS", False),
            mail_from=os.environ.get("COOP_MAIL_FROM", "LibCoop <libcoop@localhost>"),
            mail_retry_seconds=_int("COOP_MAIL_RETRY_SECONDS", 60),
            dormant_months=_int("COOP_DORMANT_MONTHS", 12),
            portal=_bool("COOP_PORTAL", False),
            outbound_allowed=tuple(n.strip() for n in (os.environ.get("COOP_OUTBOUND_ALLOW") or "").split(",") if n.strip())
            + (NON_PUBLIC if _bool("COOP_HARVEST_PRIVATE", False) else ()),
            storage_url=os.environ.get("COOP_STORAGE_URL", ""),
            s3_endpoint=os.environ.get("COOP_S3_ENDPOINT") or None,
            s3_region=os.environ.get("COOP_S3_REGION") or None,
            s3_access_key=os.environ.get("COOP_S3_ACCESS_KEY_ID") or None,
            s3_secret_key=os.environ.get("COOP_S3_SECRET_ACCESS_KEY") or None,
            mail_enabled="COOP_SMTP_HOST" in os.environ or not _bool("COOP_DEMO_SIGN_IN", False),
        )
        settings.check()
        return settings

    def check(self) -> None:
        """Refuse configurations that are unsafe or unusable."""
        if self.is_production:
            if self.secret_key == DEFAULT_SECRET or len(self.secret_key) < 32 or not looks_random(self.secret_key):
                raise SettingsError(
                    "COOP_SECRET_KEY must be a random value of at least 32 characters in production (a repeated or "
                    'patterned one is refused); make one with: python -c "import secrets; print(secrets.token_urlsafe(48))"'
                )
            if self.demo_sign_in:
                raise SettingsError("COOP_DEMO_SIGN_IN cannot be enabled in production")
            if not self.base_url:
                raise SettingsError(
                    "COOP_BASE_URL must be set in production (e.g. https://libcoop.your-library.example): every link in "
                    "e-mails, feeds and calendars comes from it, and requests for any other host are refused"
                )
        if self.base_url and not re.fullmatch(r"https?://[^/\s?#]+(/[^\s?#]*)?", self.base_url):
            raise SettingsError(f"COOP_BASE_URL is the address people use, such as https://libcoop.example, not {self.base_url!r}")
        if self.upload_max_bytes <= 0:
            raise SettingsError("COOP_UPLOAD_MAX_BYTES must be positive")
        if self.db_pool_size <= 0:
            raise SettingsError("COOP_DB_POOL_SIZE must be positive")
        if self.session_hours <= 0:
            raise SettingsError("COOP_SESSION_HOURS must be positive")
        if self.report_workers <= 0:
            raise SettingsError("COOP_REPORT_WORKERS must be positive")
        if self.report_timeout_seconds <= 0:
            raise SettingsError("COOP_REPORT_TIMEOUT must be positive (seconds)")
        if self.dormant_months <= 0:
            raise SettingsError("COOP_DORMANT_MONTHS must be positive (months)")
        for network in self.outbound_allowed:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise SettingsError(f"COOP_OUTBOUND_ALLOW lists networks such as 127.0.0.0/8 or 10.20.0.0/16, not {network!r}") from None
        if self.storage_url and not re.fullmatch(r"file:///\S*|s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/\S*)?", self.storage_url):
            raise SettingsError(f"COOP_STORAGE_URL is file:///path or s3://bucket/prefix, not {self.storage_url!r}")


def looks_random(secret: str) -> bool:
    """At least 100 bits by the Shannon entropy of its characters (0 for 40 times the same letter, about 120 for 32
    random hex digits, about 350 for `secrets.token_urlsafe(48)`), and no repeated pattern ("0123456789" four
    times has 133 such bits but compresses to half its length)."""
    counts = Counter(secret)
    bits = -sum(n * math.log2(n / len(secret)) for n in counts.values())
    return bits >= 100 and len(zlib.compress(secret.encode())) >= 0.75 * len(secret.encode())


def normalise_database_url(url: str) -> str:
    """Accept the usual spellings and pick the async driver for each backend."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+asyncpg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite:///"):
        url = "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
    if not (url.startswith("postgresql+asyncpg://") or url.startswith("sqlite+aiosqlite://")):
        raise SettingsError("COOP_DATABASE_URL must be a postgresql:// or sqlite:/// URL")
    return url
