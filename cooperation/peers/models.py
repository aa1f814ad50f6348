"""An instance's own signing keys, the instances it is paired with, the one-time pairing codes, the nonces seen."""

import uuid
from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from cooperation.db import UTCDateTime, new_id, utcnow
from cooperation.records import RecordBase


class InstanceKey(SQLModel, table=True):
    """This instance's Ed25519 key: the public half is published at /.well-known/libcoop, the private half is kept
    encrypted with COOP_SECRET_KEY. The newest key not retired signs."""

    __tablename__ = "instance_key"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    key_id: str = Field(max_length=64, unique=True)
    public_key: str = Field(max_length=64)  # the raw 32 bytes, base64url
    private_key: str = Field(max_length=500)  # Fernet token of the raw 32 bytes
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    retired_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


class Peer(RecordBase, table=True):
    """Another LibCoop instance this one trusts: where it is, its key, and which institution it speaks for here.
    Unpairing archives it (kept for the history; it is trusted no more)."""

    __tablename__ = "peer"

    base_url: str = Field(max_length=300, index=True)
    key_id: str = Field(max_length=64, index=True)
    public_key: str = Field(max_length=64)
    institution_id: uuid.UUID = Field(foreign_key="institution.id", index=True)  # whom it speaks for, here
    their_code: str = Field(max_length=20)  # the institution's code on its own instance
    their_name: str = Field(max_length=300)
    paired_by: str = Field(max_length=200)


class PairingCode(SQLModel, table=True):
    """A one-time code an administrator gives the partner's administrator (by telephone, by letter): whoever presents
    it within its validity pairs as the institution it was made for. Only its hash is kept."""

    __tablename__ = "pairing_code"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    code_hash: str = Field(max_length=64, unique=True)
    institution_id: uuid.UUID = Field(foreign_key="institution.id")
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


class SeenNonce(SQLModel, table=True):
    """A signed request's nonce, kept while its signature could still be accepted: the same message twice is refused."""

    __tablename__ = "seen_nonce"
    __table_args__ = (UniqueConstraint("key_id", "nonce", name="uq_seen_nonce"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    key_id: str = Field(max_length=64)
    nonce: str = Field(max_length=100)
    seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
