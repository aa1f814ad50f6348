"""Input and output shapes for programmes and digitization projects (never table models)."""

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

import msgspec

from cooperation.records import PageBase
from cooperation.versions import Versions

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
Count = Annotated[int, msgspec.Meta(ge=0, le=2_000_000_000)]


class Direction(StrEnum):
    INCOMING = "incoming"
    OUTGOING = "outgoing"


class QuotaIn(msgspec.Struct, forbid_unknown_fields=True):
    direction: Direction
    max_per_year: Annotated[int, msgspec.Meta(ge=0, le=1000)]
    field_of_work: Annotated[str, msgspec.Meta(max_length=200)] | None = None


class ProgrammeIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    starts_on: date
    ends_on: date
    institution_ids: list[uuid.UUID]
    quotas: list[QuotaIn] = []
    agreement_id: uuid.UUID | None = None
    description: Annotated[str, msgspec.Meta(max_length=20000)] = ""
    budget_amount: Decimal | None = None
    budget_currency: Annotated[str, msgspec.Meta(min_length=3, max_length=3)] | None = None
    commitment_id: uuid.UUID | None = None  # the agreement's commitment this programme's quota use measures
    translations: Versions = {}  # name ("title") and description ("summary") in other languages
    # Created department only (a partner's own proposal is its institution's too); true shares it with the partners
    # taking part, as the page's "Share with the partners" does. Leaving it out changes nothing.
    shared: bool | None = None


class ProgrammeUpdate(ProgrammeIn, forbid_unknown_fields=True):
    version: int = 0


class QuotaUse(msgspec.Struct):
    """One quota in one year: how many exchanges count against it, and how many are left."""

    year: int
    direction: str
    field_of_work: str | None
    max_per_year: int
    used: int
    left: int  # negative when a coordinator confirmed going past it


class ProgrammeExchange(msgspec.Struct):
    id: uuid.UUID
    expert_name: str
    home_code: str
    host_code: str
    starts_on: date
    field_of_work: str
    status: str
    direction: str


class InstitutionRef(msgspec.Struct):
    id: uuid.UUID
    code: str
    name: str


class ProgrammeOut(msgspec.Struct):
    id: uuid.UUID
    name: str
    starts_on: date
    ends_on: date
    description: str
    translations: dict[str, dict[str, str]]
    agreement_id: uuid.UUID | None
    agreement_reference: str | None
    budget_amount: Decimal | None
    budget_currency: str | None
    commitment_id: uuid.UUID | None
    institutions: list[InstitutionRef]
    quotas: list[QuotaIn]
    use: list[QuotaUse]
    exchanges: list[ProgrammeExchange]
    archived: bool
    version: int
    created_at: datetime


class ProgrammeRow(msgspec.Struct):
    id: uuid.UUID
    name: str
    starts_on: date
    ends_on: date
    agreement_reference: str | None
    exchange_count: int
    translations: dict[str, dict[str, str]] | None = None


class ProgrammePage(PageBase):
    items: list[ProgrammeRow]
