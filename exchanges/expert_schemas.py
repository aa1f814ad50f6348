"""Input and output shapes for expert exchanges."""

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

import msgspec

from cooperation import i18n
from cooperation.i18n import N_
from cooperation.records import PageBase


class ExchangeStatus(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    UNDER_WAY = "under_way"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


i18n.register_labels({"approved": N_("Approved")})


class ExchangeIn(msgspec.Struct, forbid_unknown_fields=True):
    expert_person_id: uuid.UUID
    host_institution_id: uuid.UUID
    starts_on: date
    ends_on: date
    field_of_work: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    purpose: Annotated[str, msgspec.Meta(max_length=20000)] = ""
    agreement_id: uuid.UUID | None = None
    funding: Annotated[str, msgspec.Meta(max_length=300)] | None = None
    funding_amount: Decimal | None = None
    funding_currency: Annotated[str, msgspec.Meta(min_length=3, max_length=3)] | None = None
    outcome: Annotated[str, msgspec.Meta(max_length=50000)] = ""
    programme_id: uuid.UUID | None = None  # counts against the programme's yearly quotas
    confirm_over_quota: bool = False  # a coordinator may go past a quota knowingly
    # Created department only (a partner's own proposal is its institution's too); true shares it with the partners
    # taking part, as the page's "Share with the partners" does. Leaving it out changes nothing.
    shared: bool | None = None


class ExchangeUpdate(ExchangeIn, forbid_unknown_fields=True):
    version: int = 0


class ExchangeTransitionIn(msgspec.Struct, forbid_unknown_fields=True):
    to: ExchangeStatus
    version: int
    note: Annotated[str, msgspec.Meta(max_length=1000)] | None = None


class ExpertConfirmationIn(msgspec.Struct, forbid_unknown_fields=True):
    confirmed: bool
    version: int


class ExchangeOut(msgspec.Struct):
    id: uuid.UUID
    expert_person_id: uuid.UUID
    expert_name: str
    expert_name_native: str | None
    home_institution_id: uuid.UUID
    home_code: str
    host_institution_id: uuid.UUID
    host_code: str
    starts_on: date
    ends_on: date
    field_of_work: str
    purpose: str
    status: str
    status_note: str | None
    expert_confirmed: bool
    agreement_id: uuid.UUID | None
    funding: str | None
    funding_amount: Decimal | None
    funding_currency: str | None
    outcome: str
    version: int
    created_at: datetime
    programme_id: uuid.UUID | None = None
    programme_name: str | None = None
    allowed_transitions: list[str] = []  # what this person may move it to
    may_edit: bool = False
    may_confirm: bool = False
    archived: bool = False


class ExchangeRow(msgspec.Struct):
    id: uuid.UUID
    expert_name: str
    home_code: str
    host_code: str
    starts_on: date
    ends_on: date
    field_of_work: str
    status: str
    expert_confirmed: bool


class ExchangePage(PageBase):
    items: list[ExchangeRow]
