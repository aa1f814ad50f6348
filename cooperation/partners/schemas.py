"""Input and output shapes for institutions and people (never table models)."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

import msgspec

from cooperation import i18n
from cooperation.i18n import N_
from cooperation.records import PageBase

Text300 = Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
Text200 = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class InstitutionKind(StrEnum):
    NATIONAL_LIBRARY = "national_library"
    UNIVERSITY_LIBRARY = "university_library"
    PUBLIC_LIBRARY = "public_library"
    RESEARCH_LIBRARY = "research_library"
    ARCHIVE = "archive"
    MUSEUM = "museum"
    MINISTRY = "ministry"
    INTERNATIONAL_ORGANISATION = "international_organisation"
    OTHER = "other"


i18n.register_labels(
    {
        "national_library": N_("National library"),
        "university_library": N_("University library"),
        "public_library": N_("Public library"),
        "research_library": N_("Research library"),
        "archive": N_("Archive"),
        "museum": N_("Museum"),
        "ministry": N_("Ministry"),
        "international_organisation": N_("International organisation"),
        "other": N_("Other"),
    }
)


class InstitutionIn(msgspec.Struct, forbid_unknown_fields=True):
    code: Annotated[str, msgspec.Meta(min_length=2, max_length=20, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")]
    name: Text300
    country: Annotated[str, msgspec.Meta(min_length=2, max_length=2)]
    kind: InstitutionKind = InstitutionKind.NATIONAL_LIBRARY
    name_native: Annotated[str, msgspec.Meta(max_length=300)] | None = None
    city: Annotated[str, msgspec.Meta(max_length=120)] | None = None
    website: Annotated[str, msgspec.Meta(max_length=300)] | None = None
    active: bool = True


class InstitutionUpdate(InstitutionIn, forbid_unknown_fields=True):
    version: int = 0


class InstitutionOut(msgspec.Struct):
    id: uuid.UUID
    code: str
    name: str
    name_native: str | None
    country: str
    city: str | None
    kind: str
    website: str | None
    is_home: bool
    active: bool
    archived: bool
    version: int
    created_at: datetime
    updated_at: datetime


class InstitutionRow(msgspec.Struct):
    id: uuid.UUID
    code: str
    name: str
    name_native: str | None
    country: str
    city: str | None
    kind: str
    is_home: bool
    active: bool


class InstitutionPage(PageBase):
    items: list[InstitutionRow]


class PersonIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Text200
    institution_id: uuid.UUID
    name_native: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    position: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    department: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    email: Annotated[str, msgspec.Meta(max_length=320)] | None = None
    phone: Annotated[str, msgspec.Meta(max_length=60)] | None = None
    languages: list[Annotated[str, msgspec.Meta(min_length=2, max_length=12)]] = []


class PersonUpdate(PersonIn, forbid_unknown_fields=True):
    version: int = 0


class PersonOut(msgspec.Struct):
    id: uuid.UUID
    name: str
    name_native: str | None
    position: str | None
    department: str | None
    institution_id: uuid.UUID
    institution_code: str
    institution_name: str
    email: str | None
    phone: str | None
    languages: list[str]
    archived: bool
    version: int
    may_edit: bool = False  # this reader may edit and archive the person (their own institution's, or a coordinator)
    # The linked account: shown to those who read everything, and to the account's own holder.
    account_id: uuid.UUID | None = None
    account_name: str | None = None
    account_email: str | None = None


class HomeIn(msgspec.Struct, forbid_unknown_fields=True):
    """The institution that runs this LibCoop (exactly one at any time)."""

    institution_id: uuid.UUID


class AccountLinkIn(msgspec.Struct, forbid_unknown_fields=True):
    """Link a person to the LibCoop account they sign in with (null unlinks)."""

    user_id: uuid.UUID | None
    version: int


class AccountChoice(msgspec.Struct):
    id: uuid.UUID
    name: str
    email: str
    role: str
    suggested: bool  # the account's e-mail is the person's


class PersonRow(msgspec.Struct):
    id: uuid.UUID
    name: str
    name_native: str | None
    position: str | None
    department: str | None
    institution_id: uuid.UUID
    institution_code: str
    email: str | None


class PersonPage(PageBase):
    items: list[PersonRow]
