"""Users and server-side sign-in sessions."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, UniqueConstraint, event
from sqlmodel import Field, SQLModel

from cooperation.db import UTCDateTime, new_id, utcnow
from cooperation.records import RecordBase, fold_for_search


class User(RecordBase, table=True):
    __tablename__ = "app_user"

    email: str = Field(max_length=320, unique=True, index=True)
    name: str = Field(max_length=200)
    name_native: str | None = Field(default=None, max_length=200)
    role: str = Field(max_length=20)
    institution_id: uuid.UUID | None = Field(default=None, foreign_key="institution.id", nullable=True)
    password_hash: str | None = Field(default=None, max_length=300)
    active: bool = Field(default=True)
    time_zone: str = Field(default="Asia/Ho_Chi_Minh", max_length=64)
    language: str = Field(default="en", max_length=8)
    last_sign_in_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    # Two-factor sign-in (RFC 6238): the secret encrypted with the app's key; the last time step used, so a code
    # cannot be used twice; the secret being set up until its first code confirms it.
    totp_secret_encrypted: str | None = Field(default=None, max_length=500)
    totp_pending_encrypted: str | None = Field(default=None, max_length=500)
    totp_enabled_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    totp_last_step: int | None = Field(default=None)
    # Name and address folded for search ("tran" finds Trần); kept by the ORM events below.
    search_text: str = Field(default="", max_length=1200, sa_column_kwargs={"server_default": ""})


@event.listens_for(User, "before_insert")
@event.listens_for(User, "before_update")
def _fold_for_search(_mapper: Any, _connection: Any, user: User) -> None:
    user.search_text = fold_for_search(user.name, user.name_native, user.email)[:1200]


class AuthSession(SQLModel, table=True):
    """A browser session; the cookie holds a random token, the table only its SHA-256."""

    __tablename__ = "auth_session"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    user_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id", nullable=True, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    ip_address: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, max_length=300)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class IdentityProvider(RecordBase, table=True):
    """An institution's OpenID Connect provider: its people sign in to LibCoop with their own accounts."""

    __tablename__ = "identity_provider"

    institution_id: uuid.UUID = Field(foreign_key="institution.id", unique=True, index=True)
    issuer: str = Field(max_length=300)
    client_id: str = Field(max_length=300)
    client_secret_encrypted: str = Field(max_length=2000)
    scopes: str = Field(default="openid email profile", max_length=300)
    allowed_email_domains: list[str] = Field(default_factory=list, sa_type=JSON)
    role_claim: str | None = Field(default=None, max_length=100)
    role_mapping: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    default_role: str = Field(default="partner", max_length=20)
    enabled: bool = Field(default=True)
    discovery: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    jwks: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    jwks_fetched_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


class UserIdentity(SQLModel, table=True):
    """A user's account at an identity provider, keyed by (issuer, subject) — never by e-mail alone."""

    __tablename__ = "user_identity"
    __table_args__ = (UniqueConstraint("issuer", "subject", name="uq_user_identity_issuer_subject"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="app_user.id", index=True)
    issuer: str = Field(max_length=300)
    subject: str = Field(max_length=300)
    email: str | None = Field(default=None, max_length=320)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


class ApiToken(SQLModel, table=True):
    """A personal token for scripts: shown once, stored as its SHA-256, bound to its owner's role and institution."""

    __tablename__ = "api_token"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="app_user.id", index=True)
    name: str = Field(max_length=100)
    prefix: str = Field(max_length=12)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    scope: str = Field(max_length=20)  # "read" or "read_write"
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


class RateLimitWindow(SQLModel, table=True):
    """Attempts per key per fixed window, shared by every worker process through the database."""

    __tablename__ = "rate_limit_window"

    key: str = Field(max_length=200, primary_key=True)
    window_start: datetime = Field(sa_type=UTCDateTime, primary_key=True)
    hits: int = 0


class Invitation(SQLModel, table=True):
    """An administrator's invitation: a one-time link (its SHA-256 stored) that sets a password for a new account."""

    __tablename__ = "invitation"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    email: str = Field(max_length=320, index=True)
    name: str = Field(max_length=200)
    role: str = Field(max_length=20)
    institution_id: uuid.UUID = Field(foreign_key="institution.id")
    language: str = Field(default="en", max_length=8)
    person_id: uuid.UUID | None = Field(default=None, foreign_key="person.id", nullable=True)  # linked on acceptance
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_by_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id", nullable=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    send_error: str | None = Field(default=None, max_length=500)
    accepted_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    user_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id", nullable=True)


class PasswordReset(SQLModel, table=True):
    """A one-time link (its SHA-256 stored) that sets a new password; one hour."""

    __tablename__ = "password_reset"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="app_user.id", index=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


class RecoveryCode(SQLModel, table=True):
    """One of the codes that sign in once when the authenticator is lost (their SHA-256 stored)."""

    __tablename__ = "recovery_code"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="app_user.id", index=True)
    code_hash: str = Field(max_length=64)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
