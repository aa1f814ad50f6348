"""Partner institutions and the people who work there."""

import uuid

from sqlalchemy import JSON, Index, text
from sqlmodel import Field

from cooperation.records import RecordBase


class Institution(RecordBase, table=True):
    __tablename__ = "institution"
    # Exactly one institution runs LibCoop: the database refuses a second home.
    __table_args__ = (
        Index("uq_institution_one_home", "is_home", unique=True, sqlite_where=text("is_home"), postgresql_where=text("is_home")),
    )

    code: str = Field(max_length=20, unique=True, index=True)
    name: str = Field(max_length=300)
    name_native: str | None = Field(default=None, max_length=300)
    country: str = Field(max_length=2, index=True)  # ISO 3166-1 alpha-2
    city: str | None = Field(default=None, max_length=120)
    kind: str = Field(default="national_library", max_length=40)
    website: str | None = Field(default=None, max_length=300)
    is_home: bool = Field(default=False)
    # The home institution's logo on the cover of reports (PNG or JPEG in the file store), set by an administrator.
    logo_sha256: str | None = Field(default=None, max_length=64)
    logo_type: str | None = Field(default=None, max_length=20)
    active: bool = Field(default=True)
    search_text: str = Field(default="", max_length=2000)


class Person(RecordBase, table=True):
    __tablename__ = "person"

    name: str = Field(max_length=200)
    name_native: str | None = Field(default=None, max_length=200)
    position: str | None = Field(default=None, max_length=200)
    department: str | None = Field(default=None, max_length=200)
    institution_id: uuid.UUID = Field(foreign_key="institution.id", index=True)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=60)
    languages: list[str] = Field(default_factory=list, sa_type=JSON)
    # The LibCoop account of this person, linked explicitly: what is "mine" (follow-up actions) follows this link.
    user_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id", nullable=True, unique=True, index=True)
    search_text: str = Field(default="", max_length=2000)
